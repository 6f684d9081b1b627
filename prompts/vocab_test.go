package prompts

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestParseClassFile(t *testing.T) {
	cases := []struct {
		name, in, sep string
		want          [][]string
	}{
		{"basic", "sky, cloud\ncat\ndog", "", [][]string{{"sky", "cloud"}, {"cat"}, {"dog"}}},
		{"final newline", "sky, cloud\ncat\n", SepSCLIP, [][]string{{"sky", "cloud"}, {"cat"}}},
		{"crlf", "sky, cloud\r\ncat\r\n", "", [][]string{{"sky", "cloud"}, {"cat"}}},
		{"bom", "\ufeffsky\ncat", "", [][]string{{"sky"}, {"cat"}}},
		{"trailing blank kept by reference, trimmed here", "window\nwood ", "", [][]string{{"window"}, {"wood"}}},
		{"clearclip comma", "sky, cloud\ncat,kitty", SepClearCLIP, [][]string{{"sky", "cloud"}, {"cat", "kitty"}}},
		// SCLIP splits on ", " only: a bare comma stays inside the name.
		{"sclip bare comma", "a,b\nc", SepSCLIP, [][]string{{"a,b"}, {"c"}}},
		{"inner spaces kept", "person in shirt, tv  monitor", "", [][]string{{"person in shirt", "tv  monitor"}}},
	}
	for _, c := range cases {
		v, err := ParseClassFile(strings.NewReader(c.in), "f.txt", c.sep)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if !reflect.DeepEqual(v.Names, c.want) {
			t.Errorf("%s: got %q, want %q", c.name, v.Names, c.want)
		}
	}
}

func TestParseClassFileErrors(t *testing.T) {
	cases := []struct {
		name, in, sep string
		line          int
		want          []string // substrings of the message
	}{
		{"empty file", "", "", 1, []string{"f.txt", "no classes"}},
		{"only newline", "\n", "", 1, []string{"line 1", "empty line"}},
		{"empty line", "sky\n\ncat", "", 2, []string{"f.txt", "line 2", "empty line"}},
		{"blank line", "sky\ncat\n  \t", "", 3, []string{"line 3", "empty line"}},
		{"blank line at end", "sky\ncat\n\n", "", 3, []string{"line 3", "empty line"}},
		{"empty synonym", "sky\ncat, , kitty", "", 2, []string{"line 2", "empty name", "synonym 2 of 3"}},
		{"trailing separator", "sky\ncat, ", "", 2, []string{"line 2", "empty name", "synonym 2 of 2"}},
		{"empty synonym comma", "sky,,cloud", SepClearCLIP, 1, []string{"line 1", "empty name"}},
		{"duplicate across lines", "sky, bed\ncat\nbed", "", 3, []string{"line 3", `"bed"`, "first on line 1", "again on line 3"}},
		{"duplicate in line", "sky\ncat, cat", "", 2, []string{"line 2", `"cat"`, "first on line 2"}},
		{"duplicate after trim", "cat\n cat", SepClearCLIP, 2, []string{`"cat"`, "first on line 1"}},
	}
	for _, c := range cases {
		_, err := ParseClassFile(strings.NewReader(c.in), "f.txt", c.sep)
		if err == nil {
			t.Errorf("%s: no error", c.name)
			continue
		}
		var pe *ParseError
		if !errors.As(err, &pe) {
			t.Errorf("%s: error %T, want *ParseError", c.name, err)
			continue
		}
		if pe.Index != c.line || pe.Unit != "line" {
			t.Errorf("%s: at %s %d, want line %d", c.name, pe.Unit, pe.Index, c.line)
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: message %q lacks %q", c.name, err, w)
			}
		}
	}
}

func TestParseClassFileAllowDuplicates(t *testing.T) {
	v, err := ParseClassFileWith(strings.NewReader("sky, bed\nbed"), "f.txt", ParseOptions{AllowDuplicates: true})
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{{"sky", "bed"}, {"bed"}}
	if !reflect.DeepEqual(v.Names, want) {
		t.Fatalf("got %q, want %q", v.Names, want)
	}
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("boom") }

func TestParseClassFileReadError(t *testing.T) {
	_, err := ParseClassFile(errReader{}, "f.txt", "")
	if err == nil || !strings.Contains(err.Error(), "boom") || !strings.Contains(err.Error(), "f.txt") {
		t.Fatalf("err = %v", err)
	}
}

func TestQueries(t *testing.T) {
	v := &Vocabulary{Names: [][]string{{"sky", "wall", "tree"}, {"cat"}, {"person", "person in shirt"}, {"coffee cup"}}}
	names, classOf := v.Queries()
	wantNames := []string{"sky", "wall", "tree", "cat", "person", "person in shirt", "coffee cup"}
	wantIdx := []int{0, 0, 0, 1, 2, 2, 3} // golden.json seg.query_idx
	if !reflect.DeepEqual(names, wantNames) || !reflect.DeepEqual(classOf, wantIdx) {
		t.Fatalf("Queries = %q %v, want %q %v", names, classOf, wantNames, wantIdx)
	}
	if v.Len() != 4 {
		t.Errorf("Len = %d", v.Len())
	}
	if got := v.ClassNames(); !reflect.DeepEqual(got, []string{"sky", "cat", "person", "coffee cup"}) {
		t.Errorf("ClassNames = %q", got)
	}
}

func TestParseClassList(t *testing.T) {
	cases := []struct {
		in   string
		want [][]string
	}{
		{"cat", [][]string{{"cat"}}},
		{"cat, dog, sky", [][]string{{"cat"}, {"dog"}, {"sky"}}},
		{"cat,dog", [][]string{{"cat"}, {"dog"}}},
		{"cat, dog; sky", [][]string{{"cat", "dog"}, {"sky"}}},
		{"sky, cloud; cat; dog", [][]string{{"sky", "cloud"}, {"cat"}, {"dog"}}},
		{"cat; dog", [][]string{{"cat"}, {"dog"}}},
		{"sky, cloud\ncat\ndog\n", [][]string{{"sky", "cloud"}, {"cat"}, {"dog"}}},
		{"sky, cloud\r\ncat", [][]string{{"sky", "cloud"}, {"cat"}}},
		{"a; b\nc, d", [][]string{{"a"}, {"b"}, {"c", "d"}}},
		{"  person in shirt ,  tv monitor ", [][]string{{"person in shirt"}, {"tv monitor"}}},
	}
	for _, c := range cases {
		v, err := ParseClassList(c.in)
		if err != nil {
			t.Errorf("ParseClassList(%q): %v", c.in, err)
			continue
		}
		if !reflect.DeepEqual(v.Names, c.want) {
			t.Errorf("ParseClassList(%q) = %q, want %q", c.in, v.Names, c.want)
		}
	}
}

func TestParseClassListErrors(t *testing.T) {
	cases := []struct {
		in    string
		class int
		want  []string
	}{
		{"", 1, []string{"no classes"}},
		{"  \n ", 1, []string{"no classes"}},
		{"cat;;dog", 2, []string{"class 2", "empty class"}},
		{"cat,,dog", 2, []string{"class 2", "empty class"}},
		{"cat;", 2, []string{"class 2", "empty class"}},
		{"cat, ; dog", 1, []string{"class 1", "empty name", "synonym 2 of 2"}},
		{"cat, dog, cat", 3, []string{"class 3", `"cat"`, "first in class 1", "again in class 3"}},
		{"cat, kitty; dog; kitty", 3, []string{`"kitty"`, "first in class 1", "again in class 3"}},
	}
	for _, c := range cases {
		_, err := ParseClassList(c.in)
		if err == nil {
			t.Errorf("ParseClassList(%q): no error", c.in)
			continue
		}
		var pe *ParseError
		if !errors.As(err, &pe) || pe.Unit != "class" || pe.Index != c.class {
			t.Errorf("ParseClassList(%q): %v, want class %d", c.in, err, c.class)
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("ParseClassList(%q): message %q lacks %q", c.in, err, w)
			}
		}
	}
}

// A class with no names (possible in a Vocabulary built in Go) shows as
// an empty name, not a panic; the others show their first synonym.
func TestClassNamesEmptyClass(t *testing.T) {
	v := &Vocabulary{Names: [][]string{{"sky", "clouds"}, {}, {"dog"}}}
	got := v.ClassNames()
	if len(got) != 3 || got[0] != "sky" || got[1] != "" || got[2] != "dog" {
		t.Errorf("ClassNames = %q, want [sky  dog]", got)
	}
	v.Background = true
	if got := v.DisplayNames(); got[0] != "background" || got[2] != "dog" {
		t.Errorf("DisplayNames = %q", got)
	}
}
