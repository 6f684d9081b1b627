package clip

import (
	"fmt"
	"math"
	"sync"

	"github.com/freeseg/freeseg/tensor"
	"github.com/freeseg/freeseg/tensor/attn"
	"github.com/freeseg/freeseg/tensor/gemm"
)

// Apply computes out = x·Wᵀ + b for rows rows of x, adding to out instead
// of overwriting it when accumulate is set (fused residual add).
func (l *Linear) Apply(out, x []float32, rows int, accumulate bool) {
	beta := float32(0)
	if accumulate {
		beta = 1
	}
	gemm.SgemmPacked(rows, 1, x, l.In, l.W, beta, out, l.Out, l.B)
}

// Apply layer-normalises rows rows of width d from x into out (eps 1e-5).
func (n LayerNorm) Apply(out, x []float32, rows int) {
	d := len(n.W)
	tensor.ParallelFor(rows, func(lo, hi int) {
		tensor.LayerNorm(out[lo*d:hi*d], x[lo*d:hi*d], hi-lo, d, n.W, n.B, 1e-5)
	})
}

// AttnKind selects which projections form the attention logits of a head.
// The output is always A·v. These are the attention forms of the dense
// methods (docs/method.md#dense-methods).
type AttnKind int

const (
	AttnQK       AttnKind = iota // softmax(s·q kᵀ): standard CLIP
	AttnVV                       // softmax(s·v vᵀ): CLIP Surgery's consistent attention
	AttnQQ                       // softmax(s·q qᵀ): ClearCLIP
	AttnKK                       // softmax(s·k kᵀ (+ bias)): NACLIP
	AttnQQPlusKK                 // softmax(s·q qᵀ) + softmax(s·k kᵀ): SCLIP's CSA, rows sum to 2
	AttnIdentity                 // each token keeps its own value: MaskCLIP
)

func (k AttnKind) String() string {
	switch k {
	case AttnQK:
		return "qk"
	case AttnVV:
		return "vv"
	case AttnQQ:
		return "qq"
	case AttnKK:
		return "kk"
	case AttnQQPlusKK:
		return "qq+kk"
	case AttnIdentity:
		return "identity"
	}
	return fmt.Sprintf("AttnKind(%d)", int(k))
}

// AttnOptions are the extras some attentions take.
type AttnOptions struct {
	Bias   []float32 // [N,N] added to the logits (NACLIP's Gaussian window), or nil
	Causal bool      // mask keys after the query (text tower)
}

var scratchPool sync.Pool

func getScratch(n int) *[]float32 {
	if p, ok := scratchPool.Get().(*[]float32); ok && cap(*p) >= n {
		*p = (*p)[:n]
		return p
	}
	s := make([]float32, n)
	return &s
}

// Attention computes, for each of the B sequences of N tokens and each of
// the heads, ctx_h = A_h · v_h with A_h chosen by kind, from qkv [B·N, 3D]
// (columns q | k | v, head h at columns h·hd..(h+1)·hd-1 of each; docs/model.md#vision-transformer).
// ctx is [B·N, D]. The scale is hd^-0.5 as in nn.MultiheadAttention.
//
// Each head runs the fused kernel of tensor/attn (logits, softmax and
// product in one pass, without the N×N matrix); qq+kk is two calls, the
// second adding to the first (the same as summing the two softmax matrices
// before the product). attentionReference is the same computation in
// separate steps.
func Attention(ctx, qkv []float32, B, N, D, heads int, kind AttnKind, opt AttnOptions) {
	hd := D / heads
	scale := float32(1 / math.Sqrt(float64(hd)))
	ld := 3 * D
	if opt.Bias != nil && len(opt.Bias) != N*N {
		panic(fmt.Sprintf("clip: attention bias has %d values, want %d", len(opt.Bias), N*N))
	}
	parallelTasks(B*heads, func(t int) {
		b, h := t/heads, t%heads
		base := b * N * ld
		q := qkv[base+h*hd:]
		k := qkv[base+D+h*hd:]
		v := qkv[base+2*D+h*hd:]
		out := ctx[b*N*D+h*hd:]
		switch kind {
		case AttnIdentity:
			for i := 0; i < N; i++ {
				copy(out[i*D:i*D+hd], v[i*ld:i*ld+hd])
			}
		case AttnQQPlusKK:
			attn.Head(out, D, q, ld, q, ld, v, ld, N, hd, scale, opt.Bias, opt.Causal, false)
			attn.Head(out, D, k, ld, k, ld, v, ld, N, hd, scale, opt.Bias, opt.Causal, true)
		default:
			x, y := attnOperands(kind, q, k, v)
			attn.Head(out, D, x, ld, y, ld, v, ld, N, hd, scale, opt.Bias, opt.Causal, false)
		}
	})
}

// attnOperands returns the two projections whose product gives the logits
// of kind (not qq+kk or identity).
func attnOperands(kind AttnKind, q, k, v []float32) (x, y []float32) {
	switch kind {
	case AttnQK:
		return q, k
	case AttnVV:
		return v, v
	case AttnQQ:
		return q, q
	case AttnKK:
		return k, k
	}
	panic(fmt.Sprintf("clip: no operands for attention %v", kind))
}

// attentionReference is Attention in three separate steps per head: the
// logits matrix (a GEMM), its row softmax, and its product with v (a
// second GEMM). It is the computation the fused kernel replaces, kept to
// test it against.
func attentionReference(ctx, qkv []float32, B, N, D, heads int, kind AttnKind, opt AttnOptions) {
	hd := D / heads
	scale := float32(1 / math.Sqrt(float64(hd)))
	ld := 3 * D
	tasks := B * heads
	if opt.Bias != nil && len(opt.Bias) != N*N {
		panic(fmt.Sprintf("clip: attention bias has %d values, want %d", len(opt.Bias), N*N))
	}
	run := func(t int) {
		b, h := t/heads, t%heads
		base := b * N * ld
		q := qkv[base+h*hd:]
		k := qkv[base+D+h*hd:]
		v := qkv[base+2*D+h*hd:]
		out := ctx[b*N*D+h*hd:]
		if kind == AttnIdentity {
			for i := 0; i < N; i++ {
				copy(out[i*D:i*D+hd], v[i*ld:i*ld+hd])
			}
			return
		}
		x, y := q, q
		if kind != AttnQQPlusKK {
			x, y = attnOperands(kind, q, k, v)
		}
		sp := getScratch(N * N)
		defer scratchPool.Put(sp)
		s := *sp
		logits(s, x, y, N, hd, ld, scale, opt)
		if kind == AttnQQPlusKK {
			s2p := getScratch(N * N)
			defer scratchPool.Put(s2p)
			s2 := *s2p
			logits(s2, k, k, N, hd, ld, scale, opt)
			tensor.Add(s, s2)
		}
		gemm.SgemmSerial(false, false, N, hd, N, 1, s, N, v, ld, 0, out, D)
	}
	parallelTasks(tasks, run)
}

// logits fills s [N,N] with softmax_rows(scale·x yᵀ + bias) (causal mask
// optional).
func logits(s, x, y []float32, N, hd, ld int, scale float32, opt AttnOptions) {
	gemm.SgemmSerial(false, true, N, N, hd, scale, x, ld, y, ld, 0, s, N)
	tensor.MaskedSoftmaxRows(s, N, N, N, opt.Bias, N, opt.Causal)
}

// parallelTasks runs f(0..n-1) on up to GOMAXPROCS goroutines.
func parallelTasks(n int, f func(int)) {
	tensor.ParallelFor(n, func(lo, hi int) {
		for t := lo; t < hi; t++ {
			f(t)
		}
	})
}

// Workspace holds the buffers of one forward pass over rows tokens. Get
// one with GetWorkspace and return it with PutWorkspace, so that repeated
// forwards (sliding windows, text batches, a service) reuse the buffers
// instead of allocating them for every pass.
type Workspace struct {
	ln, qkv, ctx, hidden []float32
}

var workspaces = sync.Pool{New: func() any { return new(Workspace) }}

// GetWorkspace returns a workspace from the pool.
func GetWorkspace() *Workspace { return workspaces.Get().(*Workspace) }

// PutWorkspace returns ws to the pool; the caller must not use it again.
func PutWorkspace(ws *Workspace) { workspaces.Put(ws) }

func grow(s []float32, n int) []float32 {
	if cap(s) >= n {
		return s[:n]
	}
	return make([]float32, n)
}

// QKV layer-normalises x (LN1) and projects it to q|k|v: [rows, 3D].
func (blk *Block) QKV(ws *Workspace, x []float32, rows int) []float32 {
	D := blk.InProj.In
	ws.ln = grow(ws.ln, rows*D)
	ws.qkv = grow(ws.qkv, rows*3*D)
	blk.LN1.Apply(ws.ln, x, rows)
	blk.InProj.Apply(ws.qkv, ws.ln, rows, false)
	return ws.qkv
}

// AttendInto runs the attention of kind on qkv and adds its out_proj result
// to dst (dst += OutProj(ctx)) when accumulate, else overwrites dst.
func (blk *Block) AttendInto(ws *Workspace, dst, qkv []float32, B, N int, kind AttnKind, opt AttnOptions, accumulate bool) {
	D := blk.OutProj.In
	ws.ctx = grow(ws.ctx, B*N*D)
	Attention(ws.ctx, qkv, B, N, D, blk.Heads, kind, opt)
	blk.OutProj.Apply(dst, ws.ctx, B*N, accumulate)
}

// MLPResidual computes x += c_proj(act(c_fc(LN2(x)))) in place, act being
// QuickGELU, or the exact GELU when blk.GELU is set (LAION models).
func (blk *Block) MLPResidual(ws *Workspace, x []float32, rows int) {
	D, H := blk.FC.In, blk.FC.Out
	ws.ln = grow(ws.ln, rows*D)
	ws.hidden = grow(ws.hidden, rows*H)
	blk.LN2.Apply(ws.ln, x, rows)
	blk.FC.Apply(ws.hidden, ws.ln, rows, false)
	act := tensor.QuickGELU
	if blk.GELU {
		act = tensor.GELU
	}
	tensor.ParallelFor(rows, func(lo, hi int) { act(ws.hidden[lo*H : hi*H]) })
	blk.Proj.Apply(x, ws.hidden, rows, true)
}

// Forward runs the block as in CLIP: x = x + MHA(LN1(x)); x = x + MLP(LN2(x)).
func (blk *Block) Forward(ws *Workspace, x []float32, B, N int, opt AttnOptions) {
	qkv := blk.QKV(ws, x, B*N)
	blk.AttendInto(ws, x, qkv, B, N, AttnQK, opt, true)
	blk.MLPResidual(ws, x, B*N)
}
