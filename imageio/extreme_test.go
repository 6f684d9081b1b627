package imageio

import "testing"

// Extreme aspect ratios: mmcv's keep-ratio formula gives a 0-pixel side
// (int(1·0.1024 + 0.5) = 0), which used to reach the resizes and panic.
// Every side is now at least one pixel, the resize works, and a constant
// image stays constant.
func TestExtremeAspectResizes(t *testing.T) {
	for _, tc := range []struct{ w, h, wantW, wantH int }{
		// f = min(2048/19999, 336/1) = 0.10240512; 19999·f = 2048.
		{1, 19999, 1, 2048},
		// f = min(2048/20000, 336/1) = 0.1024; 20000·f = 2048.
		{20000, 1, 2048, 1},
		{1, 1, 336, 336},
	} {
		w, h := KeepRatioSize(tc.w, tc.h, 336, MMSegMaxLong)
		if w != tc.wantW || h != tc.wantH {
			t.Fatalf("KeepRatioSize(%dx%d) = %dx%d, want %dx%d", tc.w, tc.h, w, h, tc.wantW, tc.wantH)
		}
		img := NewRGB(tc.w, tc.h)
		for i := range img.Pix {
			img.Pix[i] = []uint8{200, 10, 77}[i%3]
		}
		for name, out := range map[string]*RGB{
			"cv2": ResizeCV2Linear(img, w, h),
			"pil": ResizePIL(img, w, h, Bilinear),
		} {
			if out.W != w || out.H != h || len(out.Pix) != 3*w*h {
				t.Fatalf("%s resize of %dx%d to %dx%d gave %dx%d", name, tc.w, tc.h, w, h, out.W, out.H)
			}
			for i, v := range out.Pix {
				if v != img.Pix[i%3] {
					t.Fatalf("%s resize of a constant %dx%d image: value %d at %d, want %d", name, tc.w, tc.h, v, i, img.Pix[i%3])
				}
			}
		}
	}
	// Sizes below one pixel, and empty images, never panic.
	if out := ResizeCV2Linear(NewRGB(5, 5), 0, -3); out.W != 1 || out.H != 1 {
		t.Fatalf("cv2 resize to 0x-3 gave %dx%d, want 1x1", out.W, out.H)
	}
	if out := ResizePIL(NewRGB(5, 5), 0, 4, Bicubic); out.W != 1 || out.H != 4 {
		t.Fatalf("PIL resize to 0x4 gave %dx%d, want 1x4", out.W, out.H)
	}
	if out := ResizeCV2Linear(&RGB{}, 4, 4); out.W != 0 || out.H != 0 {
		t.Fatalf("resize of an empty image gave %dx%d", out.W, out.H)
	}
	if w, h := KeepRatioSize(0, 7, 336, 2048); w != 0 || h != 0 {
		t.Fatalf("KeepRatioSize of an empty image: %dx%d", w, h)
	}
}
