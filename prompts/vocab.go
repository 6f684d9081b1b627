package prompts

import (
	"fmt"
	"io"
	"strings"
)

// Separators used by the reference parsers of class-name files.
const (
	// SepSCLIP is what SCLIP and NACLIP split each line on (get_cls_idx:
	// line.split(', ')). It is the default when no separator is given.
	SepSCLIP = ", "
	// SepClearCLIP is what ClearCLIP splits each line on (line.split(',')).
	SepClearCLIP = ","
	// SepProxyCLIP is what ProxyCLIP splits each line on
	// (name_sets[idx].split('; ')).
	SepProxyCLIP = "; "
)

// Vocabulary is a list of classes, each with one or more names (synonyms).
// Every name is a text query; a class scores the maximum over its names.
// Class i is Names[i]. With Background, class 0 is the background class (as
// in the with-background benchmarks VOC21, Context60 and COCO-Object): it
// gets the pixels no class explains well enough and is never removed by the
// partial labels.
type Vocabulary struct {
	Names      [][]string // per class, its synonyms, in file order
	Background bool       // class 0 is the background
}

// Len returns the number of classes.
func (v *Vocabulary) Len() int { return len(v.Names) }

// Queries flattens the synonyms in order: names[q] is query q and
// classOf[q] its class (SCLIP's query_words and query_idx).
func (v *Vocabulary) Queries() (names []string, classOf []int) {
	for c, syn := range v.Names {
		for _, n := range syn {
			names = append(names, n)
			classOf = append(classOf, c)
		}
	}
	return names, classOf
}

// ClassNames returns the first name of each class, for display.
func (v *Vocabulary) ClassNames() []string {
	out := make([]string, len(v.Names))
	for i, syn := range v.Names {
		if len(syn) > 0 {
			out[i] = syn[0]
		}
	}
	return out
}

// DisplayNames are the class names to show: the first synonym of each
// class, and "background" for a background class 0.
func (v *Vocabulary) DisplayNames() []string {
	out := v.ClassNames()
	if v.Background && len(out) > 0 {
		out[0] = "background"
	}
	return out
}

// ParseError reports a problem in a class-name file or class list. Unit is
// "line" for files (Index counts lines from 1) and "class" for lists given
// to [ParseClassList] (Index counts classes from 1).
type ParseError struct {
	Source string // file name, or "class list"
	Unit   string // "line" or "class"
	Index  int    // 1-based
	Msg    string
}

func (e *ParseError) Error() string {
	return fmt.Sprintf("%s: %s %d: %s", e.Source, e.Unit, e.Index, e.Msg)
}

// ParseOptions controls [ParseClassFileWith].
type ParseOptions struct {
	// Sep separates the synonyms on a line; "" means [SepSCLIP].
	Sep string
	// AllowDuplicates accepts a name that appears more than once. The
	// published cls_coco_object.txt needs it: "bed" is both a background
	// synonym (line 1) and a class (line 61).
	AllowDuplicates bool
}

// ParseClassFile reads a class-name file: one class per line, its synonyms
// separated by sep ("" means [SepSCLIP], ", ", which SCLIP and NACLIP use;
// ClearCLIP uses [SepClearCLIP], ","). name is the file name used in error
// messages.
//
// Every name is trimmed of surrounding white space. The reference parsers
// keep it (SCLIP's cls_context60.txt ends in "wood ", and ClearCLIP's ","
// split leaves leading blanks), but CLIP's tokenizer collapses and strips
// white space before encoding, and a template puts a name between blanks or
// before punctuation, so the token ids, and the embeddings, are the same.
// "\r\n" line ends and a leading UTF-8 byte-order mark are accepted, and a
// final line end is optional.
//
// Errors, as *ParseError with the 1-based line number: a file without
// classes, an empty or blank line (a blank line at the end included), an
// empty name between separators, and a name that appears twice (the message
// names both lines). Use [ParseClassFileWith] to accept duplicates.
func ParseClassFile(r io.Reader, name string, sep string) (*Vocabulary, error) {
	return ParseClassFileWith(r, name, ParseOptions{Sep: sep})
}

// ParseClassFileWith is [ParseClassFile] with options.
func ParseClassFileWith(r io.Reader, name string, opt ParseOptions) (*Vocabulary, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return parseClassText(string(data), name, opt)
}

func parseClassText(s, source string, opt ParseOptions) (*Vocabulary, error) {
	sep := opt.Sep
	if sep == "" {
		sep = SepSCLIP
	}
	s = strings.TrimPrefix(s, "\ufeff")
	lines := strings.Split(s, "\n")
	if lines[len(lines)-1] == "" {
		// The final line end (or an empty file).
		lines = lines[:len(lines)-1]
	}
	if len(lines) == 0 {
		return nil, &ParseError{Source: source, Unit: "line", Index: 1, Msg: "no classes"}
	}
	v := &Vocabulary{Names: make([][]string, 0, len(lines))}
	seen := map[string]int{} // name -> 1-based line of its first use
	for i, line := range lines {
		ln := i + 1
		line = strings.TrimSuffix(line, "\r")
		if strings.TrimSpace(line) == "" {
			return nil, &ParseError{Source: source, Unit: "line", Index: ln, Msg: "empty line"}
		}
		parts := strings.Split(line, sep)
		syn := make([]string, 0, len(parts))
		for k, p := range parts {
			n := strings.TrimSpace(p)
			if n == "" {
				return nil, &ParseError{Source: source, Unit: "line", Index: ln,
					Msg: fmt.Sprintf("empty name (synonym %d of %d, separator %q)", k+1, len(parts), sep)}
			}
			if first, dup := seen[n]; dup && !opt.AllowDuplicates {
				return nil, &ParseError{Source: source, Unit: "line", Index: ln,
					Msg: fmt.Sprintf("duplicate name %q (first on line %d, again on line %d)", n, first, ln)}
			} else if !dup {
				seen[n] = ln
			}
			syn = append(syn, n)
		}
		v.Names = append(v.Names, syn)
	}
	return v, nil
}

// ParseClassList parses a class list as typed on a command line.
//
// The rule: if s contains a ';' or a newline, then ';' and newlines separate
// classes and ',' separates the synonyms of a class ("sky, cloud; cat; dog"
// is three classes, the first with two names). Otherwise ',' separates
// classes and every class has a single name ("cat, dog, sky" is three
// classes). Names are trimmed of surrounding white space, and so is s as a
// whole (a trailing newline is fine).
//
// Errors, as *ParseError numbering classes from 1: an empty list, an empty
// class (for example "cat;;dog" or "cat,,dog"), an empty synonym
// ("cat, ; dog"), and a name given twice (the message names both classes).
func ParseClassList(s string) (*Vocabulary, error) {
	const source = "class list"
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, &ParseError{Source: source, Unit: "class", Index: 1, Msg: "no classes"}
	}
	var classes [][]string
	if strings.ContainsAny(s, ";\n") {
		for _, c := range splitAny(s, ";\n") {
			classes = append(classes, strings.Split(c, ","))
		}
	} else {
		for _, c := range strings.Split(s, ",") {
			classes = append(classes, []string{c})
		}
	}
	v := &Vocabulary{Names: make([][]string, 0, len(classes))}
	seen := map[string]int{}
	for i, parts := range classes {
		ci := i + 1
		if len(parts) == 1 && strings.TrimSpace(parts[0]) == "" {
			return nil, &ParseError{Source: source, Unit: "class", Index: ci, Msg: "empty class"}
		}
		syn := make([]string, 0, len(parts))
		for k, p := range parts {
			n := strings.TrimSpace(p)
			if n == "" {
				return nil, &ParseError{Source: source, Unit: "class", Index: ci,
					Msg: fmt.Sprintf("empty name (synonym %d of %d)", k+1, len(parts))}
			}
			if first, dup := seen[n]; dup {
				return nil, &ParseError{Source: source, Unit: "class", Index: ci,
					Msg: fmt.Sprintf("duplicate name %q (first in class %d, again in class %d)", n, first, ci)}
			}
			seen[n] = ci
			syn = append(syn, n)
		}
		v.Names = append(v.Names, syn)
	}
	return v, nil
}

// splitAny splits s at every byte of seps (all ASCII).
func splitAny(s, seps string) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); i++ {
		if strings.IndexByte(seps, s[i]) >= 0 {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}
