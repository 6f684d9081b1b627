package freeseg

import (
	"fmt"
	"os"
	"strings"

	"github.com/freeseg/freeseg/prompts"
)

// WithBackground applies the background rule of freeseg segment to the
// classes v. background is
//
//   - "none": no background class;
//   - "first" (or "file"): class 0 of v is the background (v needs two or
//     more classes);
//   - "" or "default": a new class 0 made of the 26 "stuff" names of
//     SCLIP's VOC setting (sky, wall, tree, ...);
//   - any other text: a new class 0 made of those names ("sky, wall,
//     floor"; ',' or ';' separate them).
//
// A background name that is also one of v's names is left out of the
// background (with a note saying so); if none is left that is an error.
// It returns the vocabulary to segment with (its Background field says
// whether class 0 is the background; v itself is not changed) and the notes.
func WithBackground(v *prompts.Vocabulary, background string) (*prompts.Vocabulary, []string, error) {
	if v == nil || v.Len() == 0 {
		return nil, nil, fmt.Errorf("no classes")
	}
	b := strings.TrimSpace(background)
	switch strings.ToLower(b) {
	case "none":
		return &prompts.Vocabulary{Names: v.Names}, nil, nil
	case "first", "file":
		if v.Len() < 2 {
			return nil, nil, fmt.Errorf("background %q needs a background class and at least one other class", b)
		}
		return &prompts.Vocabulary{Names: v.Names, Background: true}, nil, nil
	}
	var bg []string
	if b == "" || strings.EqualFold(b, "default") {
		voc, err := prompts.Dataset("voc21")
		if err != nil {
			return nil, nil, err
		}
		bg = voc.Names[0]
	} else {
		bv, err := prompts.ParseClassList(strings.ReplaceAll(b, ";", ","))
		if err != nil {
			return nil, nil, fmt.Errorf("background: %w", err)
		}
		for _, n := range bv.Names {
			bg = append(bg, n...)
		}
	}
	// A name asked for as a class must not also be background.
	used := map[string]bool{}
	for _, syn := range v.Names {
		for _, n := range syn {
			used[strings.ToLower(n)] = true
		}
	}
	var kept, notes []string
	for _, n := range bg {
		if used[strings.ToLower(n)] {
			notes = append(notes, fmt.Sprintf("%q is one of your classes, so it is not used as background", n))
			continue
		}
		kept = append(kept, n)
	}
	if len(kept) == 0 {
		return nil, nil, fmt.Errorf("every background name is also a class; use background none")
	}
	return &prompts.Vocabulary{Names: append([][]string{kept}, v.Names...), Background: true}, notes, nil
}

// ParseClasses reads the classes of a command: classes is a list ("cat,
// dog; sky": ';' separates classes, ',' synonyms; without ';' each name
// is a class), classesFile a class file (one class per line, synonyms
// separated by ", ": the SCLIP/NACLIP format). Giving both is a usage
// error; giving neither returns nil.
func ParseClasses(classes, classesFile string) (*prompts.Vocabulary, error) {
	switch {
	case classes != "" && classesFile != "":
		return nil, Usagef("give --classes or --classes-file, not both")
	case classes != "":
		return prompts.ParseClassList(classes)
	case classesFile != "":
		f, err := os.Open(classesFile)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		return prompts.ParseClassFile(f, classesFile, prompts.SepSCLIP)
	}
	return nil, nil
}

// SegmentVocabulary is the vocabulary freeseg segment segments with: the
// classes (ParseClasses) under the background rule (WithBackground; "file"
// takes line 0 of classesFile), and the rule's notes.
func SegmentVocabulary(classes, classesFile, background string) (*prompts.Vocabulary, []string, error) {
	v, err := ParseClasses(classes, classesFile)
	if err != nil {
		return nil, nil, err
	}
	if v == nil {
		return nil, nil, Usagef("no classes: give --classes \"cat, dog; sky\" or --classes-file FILE")
	}
	if strings.EqualFold(strings.TrimSpace(background), "file") && classesFile == "" {
		return nil, nil, Usagef("--background file needs --classes-file (line 0 is the background)")
	}
	out, notes, err := WithBackground(v, background)
	if err != nil {
		if classesFile != "" {
			return nil, nil, fmt.Errorf("%s: %w", classesFile, err)
		}
		return nil, nil, fmt.Errorf("--background: %w", err)
	}
	return out, notes, nil
}
