package freeseg

import (
	"encoding/json"
	"fmt"
	"strings"
)

// ResizeMode is how an image is sized before inference.
type ResizeMode int

const (
	// ResizeShort keeps the ratio: the short side becomes Size unless the
	// long side would pass MaxLong (OpenCV bilinear, as the benchmark
	// protocols do; docs/model.md#preprocessing).
	ResizeShort ResizeMode = iota
	// ResizeSquare resizes to Size×Size with Pillow's bicubic (CLIP
	// Surgery's demo).
	ResizeSquare
	// ResizeNone feeds the image at its own size.
	ResizeNone
)

var resizeNames = []string{"short", "square", "none"}

func (m ResizeMode) String() string {
	if m >= 0 && int(m) < len(resizeNames) {
		return resizeNames[m]
	}
	return fmt.Sprintf("ResizeMode(%d)", int(m))
}

// ParseResizeMode reads short, square or none.
func ParseResizeMode(s string) (ResizeMode, error) {
	for i, n := range resizeNames {
		if strings.EqualFold(strings.TrimSpace(s), n) {
			return ResizeMode(i), nil
		}
	}
	return 0, fmt.Errorf("unknown resize mode %q (want %s)", s, strings.Join(resizeNames, ", "))
}

// MarshalText writes the name, so that reports show "short", not 0.
func (m ResizeMode) MarshalText() ([]byte, error) { return []byte(m.String()), nil }

// UnmarshalText reads a name.
func (m *ResizeMode) UnmarshalText(b []byte) error {
	v, err := ParseResizeMode(string(b))
	*m = v
	return err
}

// FeatureSurgery is CLIP Surgery's removal of what the texts of an
// explanation share (docs/method.md#feature-surgery).
type FeatureSurgery int

const (
	// SurgeryAuto is SurgeryMulti for two or more texts, SurgeryRedundant
	// for one.
	SurgeryAuto FeatureSurgery = iota
	// SurgeryMulti weights the texts by the CLS prediction and removes
	// their mean (needs two or more texts).
	SurgeryMulti
	// SurgeryRedundant subtracts the ensemble of the empty name.
	SurgeryRedundant
	// SurgeryOff keeps the plain cosine.
	SurgeryOff
)

var surgeryNames = []string{"auto", "multi", "redundant", "off"}

func (f FeatureSurgery) String() string {
	if f >= 0 && int(f) < len(surgeryNames) {
		return surgeryNames[f]
	}
	return fmt.Sprintf("FeatureSurgery(%d)", int(f))
}

// ParseFeatureSurgery reads auto, multi, redundant or off.
func ParseFeatureSurgery(s string) (FeatureSurgery, error) {
	for i, n := range surgeryNames {
		if strings.EqualFold(strings.TrimSpace(s), n) {
			return FeatureSurgery(i), nil
		}
	}
	return 0, fmt.Errorf("unknown feature surgery %q (want %s)", s, strings.Join(surgeryNames, ", "))
}

// For resolves auto for k texts.
func (f FeatureSurgery) For(k int) FeatureSurgery {
	if f != SurgeryAuto {
		return f
	}
	if k < 2 {
		return SurgeryRedundant
	}
	return SurgeryMulti
}

// MarshalJSON writes the name.
func (f FeatureSurgery) MarshalJSON() ([]byte, error) { return json.Marshal(f.String()) }
