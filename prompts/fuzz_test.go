package prompts

import (
	"bytes"
	"strings"
	"testing"
)

// FuzzParseClassFile checks that parsing never panics and that a success
// gives a well-formed vocabulary: at least one class, every class with at
// least one name, every name non-empty and trimmed, no name twice, and
// Queries consistent with Names. It also runs ParseClassList on the input.
func FuzzParseClassFile(f *testing.F) {
	for path := range classFileDigests {
		b, err := ClassFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, uint8(0))
		f.Add(b, uint8(1))
	}
	for _, s := range []string{"", "\n", "a", "a\n", "a, b\nc", "a,,b", "a\n\nb", "\ufeffa\r\nb\r\n", " , ", "a, a", "x;y, z", "\xff\xfe, \x00"} {
		f.Add([]byte(s), uint8(0))
		f.Add([]byte(s), uint8(1))
		f.Add([]byte(s), uint8(2))
	}
	seps := []string{"", SepClearCLIP, "; ", " "}
	f.Fuzz(func(t *testing.T, data []byte, sepSel uint8) {
		sep := seps[int(sepSel)%len(seps)]
		v, err := ParseClassFile(bytes.NewReader(data), "fuzz.txt", sep)
		if err == nil {
			checkVocabulary(t, v)
		} else if _, ok := err.(*ParseError); !ok {
			t.Fatalf("error %T %v, want *ParseError", err, err)
		}
		if v, err := ParseClassList(string(data)); err == nil {
			checkVocabulary(t, v)
		}
	})
}

func checkVocabulary(t *testing.T, v *Vocabulary) {
	t.Helper()
	if v == nil || v.Len() == 0 {
		t.Fatal("success without classes")
	}
	seen := map[string]bool{}
	total := 0
	for c, syn := range v.Names {
		if len(syn) == 0 {
			t.Fatalf("class %d has no names", c)
		}
		for _, n := range syn {
			if n == "" || n != strings.TrimSpace(n) {
				t.Fatalf("class %d: bad name %q", c, n)
			}
			if seen[n] {
				t.Fatalf("class %d: %q twice", c, n)
			}
			seen[n] = true
			total++
		}
	}
	names, classOf := v.Queries()
	if len(names) != total || len(classOf) != total {
		t.Fatalf("Queries: %d names, %d classes, want %d", len(names), len(classOf), total)
	}
	for q := 1; q < len(classOf); q++ {
		if classOf[q] < classOf[q-1] || classOf[q] > classOf[q-1]+1 {
			t.Fatalf("Queries: classOf not contiguous: %v", classOf)
		}
	}
	if classOf[0] != 0 || classOf[len(classOf)-1] != v.Len()-1 {
		t.Fatalf("Queries: classOf %v for %d classes", classOf, v.Len())
	}
}
