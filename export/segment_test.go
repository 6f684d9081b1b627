package export

import (
	"reflect"
	"testing"
)

func TestCOCOImageIDs(t *testing.T) {
	if got := COCOImageIDs([]string{"a/000000397133.jpg", "b/42.png"}); !reflect.DeepEqual(got, []int64{397133, 42}) {
		t.Errorf("numeric names: %v", got)
	}
	for _, in := range [][]string{{"a/1.jpg", "b/cat.jpg"}, {"a/7.jpg", "b/7.png"}} {
		if got := COCOImageIDs(in); !reflect.DeepEqual(got, []int64{1, 2}) {
			t.Errorf("%v: %v, want [1 2]", in, got)
		}
	}
}
