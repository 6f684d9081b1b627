package weights

import (
	"encoding/binary"
	"math"
)

// run executes the pickle and returns the object STOP yields.
func (u *unpickler) run() (any, error) {
	for {
		if u.pos >= len(u.data) {
			return nil, u.errAt(u.pos, "truncated pickle: no STOP opcode")
		}
		op := u.pos
		c := u.data[u.pos]
		u.pos++
		if u.pushes > maxPickleValues {
			return nil, u.errAt(op, "more than %d values pushed: far more than any checkpoint needs (a pickle bomb?)", maxPickleValues)
		}
		switch c {
		case 0x80: // PROTO
			b, err := u.read(1, op)
			if err != nil {
				return nil, err
			}
			if b[0] > 5 {
				return nil, u.errAt(op, "unsupported pickle protocol %d", b[0])
			}
		case 0x95: // FRAME: a length hint only
			if _, err := u.read(8, op); err != nil {
				return nil, err
			}
		case '.': // STOP
			v, err := u.pop(op)
			if err != nil {
				return nil, err
			}
			return v, nil
		case '(': // MARK
			if len(u.marks) >= maxPickleDepth {
				return nil, u.errAt(op, "nesting deeper than %d levels", maxPickleDepth)
			}
			u.marks = append(u.marks, len(u.stack))
		case '0': // POP
			if len(u.stack) > u.fence() {
				u.stack = u.stack[:len(u.stack)-1]
			} else if len(u.marks) > 0 {
				u.marks = u.marks[:len(u.marks)-1]
			} else {
				return nil, u.errAt(op, "stack underflow (POP)")
			}
		case '1': // POP_MARK
			if _, err := u.popMark(op); err != nil {
				return nil, err
			}
		case '2': // DUP
			v, err := u.top(op)
			if err != nil {
				return nil, err
			}
			u.push(v)
		case 'N':
			u.push(nil)
		case 0x88:
			u.push(true)
		case 0x89:
			u.push(false)
		case 'J', 'K', 'M': // BININT, BININT1, BININT2
			width := opWidth(c)
			n, err := u.readUint(width, op)
			if err != nil {
				return nil, err
			}
			if c == 'J' {
				u.push(int64(int32(n)))
			} else {
				u.push(int64(n))
			}
		case 0x8a, 0x8b: // LONG1, LONG4
			width := 1
			if c == 0x8b {
				width = 4
				if u.pos+4 <= len(u.data) && int32(binary.LittleEndian.Uint32(u.data[u.pos:])) < 0 {
					return nil, u.errAt(op, "LONG4 with negative length")
				}
			}
			n, err := u.readLen(width, op)
			if err != nil {
				return nil, err
			}
			b, err := u.read(n, op)
			if err != nil {
				return nil, err
			}
			u.push(decodeLong(b))
		case 'G': // BINFLOAT (big-endian)
			b, err := u.read(8, op)
			if err != nil {
				return nil, err
			}
			u.push(math.Float64frombits(binary.BigEndian.Uint64(b)))
		case 'X', 0x8c, 0x8d, 'U', 'T', 'C', 'B', 0x8e: // strings and bytes
			width := 4
			switch c {
			case 0x8c, 'U', 'C':
				width = 1
			case 0x8d, 0x8e:
				width = 8
			}
			if c == 'T' { // BINSTRING has a signed length
				if u.pos+4 <= len(u.data) && int32(binary.LittleEndian.Uint32(u.data[u.pos:])) < 0 {
					return nil, u.errAt(op, "BINSTRING with negative length")
				}
			}
			n, err := u.readLen(width, op)
			if err != nil {
				return nil, err
			}
			b, err := u.read(n, op)
			if err != nil {
				return nil, err
			}
			if c == 'C' || c == 'B' || c == 0x8e {
				u.push(pyBytes(append([]byte(nil), b...)))
			} else {
				u.push(string(b))
			}
		case ')':
			u.push(pyTuple{})
		case 0x85, 0x86, 0x87: // TUPLE1..3
			items, err := u.popN(int(c-0x85)+1, op)
			if err != nil {
				return nil, err
			}
			u.push(pyTuple(items))
		case 't': // TUPLE
			items, err := u.popMark(op)
			if err != nil {
				return nil, err
			}
			u.push(pyTuple(items))
		case ']':
			u.push(&pyList{})
		case 'l': // LIST
			items, err := u.popMark(op)
			if err != nil {
				return nil, err
			}
			u.push(&pyList{items: items})
		case '}':
			u.push(&pyDict{})
		case 'd': // DICT
			items, err := u.popMark(op)
			if err != nil {
				return nil, err
			}
			d := &pyDict{}
			if err := u.setItems(d, items, op); err != nil {
				return nil, err
			}
			u.push(d)
		case 0x8f: // EMPTY_SET
			u.push(&pySet{})
		case 0x91: // FROZENSET
			items, err := u.popMark(op)
			if err != nil {
				return nil, err
			}
			u.push(&pySet{items: items})
		case 'a', 'e', 0x90: // APPEND, APPENDS, ADDITEMS
			var items []any
			var err error
			if c == 'a' {
				items, err = u.popN(1, op)
			} else {
				items, err = u.popMark(op)
			}
			if err != nil {
				return nil, err
			}
			t, err := u.top(op)
			if err != nil {
				return nil, err
			}
			switch x := t.(type) {
			case *pyList:
				if c == 0x90 {
					return nil, u.errAt(op, "ADDITEMS on a list")
				}
				x.items = append(x.items, items...)
			case *pySet:
				if c != 0x90 {
					return nil, u.errAt(op, "APPEND on a set")
				}
				x.items = append(x.items, items...)
			default:
				return nil, u.errAt(op, "cannot append to %s", typeName(t))
			}
		case 's', 'u': // SETITEM, SETITEMS
			var items []any
			var err error
			if c == 's' {
				items, err = u.popN(2, op)
			} else {
				items, err = u.popMark(op)
			}
			if err != nil {
				return nil, err
			}
			t, err := u.top(op)
			if err != nil {
				return nil, err
			}
			d, ok := t.(*pyDict)
			if !ok {
				return nil, u.errAt(op, "cannot set items on %s", typeName(t))
			}
			if err := u.setItems(d, items, op); err != nil {
				return nil, err
			}
		case 'q', 'r', 0x94: // BINPUT, LONG_BINPUT, MEMOIZE
			idx := uint32(len(u.memo))
			if c != 0x94 {
				n, err := u.readUint(opWidth(c), op)
				if err != nil {
					return nil, err
				}
				idx = uint32(n)
			}
			v, err := u.top(op)
			if err != nil {
				return nil, err
			}
			if _, ok := u.memo[idx]; !ok && len(u.memo) >= maxMemo {
				return nil, u.errAt(op, "more than %d memo entries: far more than any checkpoint needs (a pickle bomb?)", maxMemo)
			}
			u.memo[idx] = v
		case 'h', 'j': // BINGET, LONG_BINGET
			n, err := u.readUint(opWidth(c), op)
			if err != nil {
				return nil, err
			}
			idx := uint32(n)
			v, ok := u.memo[idx]
			if !ok {
				return nil, u.errAt(op, "memo key %d was never stored", idx)
			}
			u.push(v)
		case 'c': // GLOBAL
			mod, err := u.readLine(op)
			if err != nil {
				return nil, err
			}
			name, err := u.readLine(op)
			if err != nil {
				return nil, err
			}
			g, err := u.global(mod, name, op)
			if err != nil {
				return nil, err
			}
			u.push(g)
		case 0x93: // STACK_GLOBAL
			items, err := u.popN(2, op)
			if err != nil {
				return nil, err
			}
			mod, ok1 := items[0].(string)
			name, ok2 := items[1].(string)
			if !ok1 || !ok2 {
				return nil, u.errAt(op, "STACK_GLOBAL operands are not strings")
			}
			g, err := u.global(mod, name, op)
			if err != nil {
				return nil, err
			}
			u.push(g)
		case 'R': // REDUCE
			items, err := u.popN(2, op)
			if err != nil {
				return nil, err
			}
			args, ok := items[1].(pyTuple)
			if !ok {
				return nil, u.errAt(op, "REDUCE arguments are %s, want a tuple", typeName(items[1]))
			}
			v, err := u.call(items[0], args, op, 0)
			if err != nil {
				return nil, err
			}
			u.push(v)
		case 0x81, 0x92: // NEWOBJ, NEWOBJ_EX
			n := 2
			if c == 0x92 {
				n = 3
			}
			items, err := u.popN(n, op)
			if err != nil {
				return nil, err
			}
			args, ok := items[1].(pyTuple)
			if !ok {
				return nil, u.errAt(op, "NEWOBJ arguments are %s, want a tuple", typeName(items[1]))
			}
			if c == 0x92 {
				if kw, ok := items[2].(*pyDict); !ok || len(kw.keys) > 0 {
					return nil, u.errAt(op, "NEWOBJ_EX with keyword arguments is not supported")
				}
			}
			v, err := u.call(items[0], args, op, 0)
			if err != nil {
				return nil, err
			}
			u.push(v)
		case 'b': // BUILD
			state, err := u.pop(op)
			if err != nil {
				return nil, err
			}
			t, err := u.top(op)
			if err != nil {
				return nil, err
			}
			switch x := t.(type) {
			case *pyObject:
				if old, ok := x.state.(*pyDict); ok {
					if nd, ok := state.(*pyDict); ok && old != nd {
						for i := range nd.keys {
							old.set(nd.keys[i], nd.vals[i])
						}
						break
					}
				}
				x.state = state
			case *pyDict:
				x.state = state
			case *tensorRef, *pyList, *pySet:
				// tensor subclass state, list attributes: not needed
			default:
				return nil, u.errAt(op, "BUILD on %s", typeName(t))
			}
		case 'Q': // BINPERSID
			pid, err := u.pop(op)
			if err != nil {
				return nil, err
			}
			s, err := u.persistentLoad(pid, op)
			if err != nil {
				return nil, err
			}
			u.push(s)
		default:
			if c >= 0x20 && c < 0x7f {
				return nil, u.errAt(op, "unsupported pickle opcode 0x%02x (%q)", c, rune(c))
			}
			return nil, u.errAt(op, "unsupported pickle opcode 0x%02x", c)
		}
	}
}
