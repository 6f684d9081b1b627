package main

import (
	"encoding/json"

	"github.com/freeseg/freeseg"
	"github.com/freeseg/freeseg/tokenizer"
)

func init() {
	register(&command{
		name:    "tokenize",
		summary: "print CLIP BPE token ids of each text, one JSON object per line",
		usage:   "[--truncate] [--model DIR] TEXT...",
		run:     runTokenize,
	})
}

func runTokenize(e *env, args []string) error {
	fs := newFlags(e, commands["tokenize"])
	truncate := fs.Bool("truncate", false, "cut texts longer than the context to 77 tokens (ending with the end token) instead of failing")
	model := fs.String("model", "", "model folder whose vocab.json+merges.txt or bpe_simple_vocab_16e6.txt.gz to use (default: the built-in CLIP vocabulary)")
	texts, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(texts) == 0 {
		return freeseg.Usagef("no TEXT given")
	}
	tok := tokenizer.Default()
	if *model != "" {
		if tok, err = tokenizer.LoadDir(*model); err != nil {
			return err
		}
	}
	enc := json.NewEncoder(e.stdout)
	enc.SetEscapeHTML(false)
	for _, t := range texts {
		ids, err := tok.Tokenize(t, tokenizer.ContextLength, *truncate)
		if err != nil {
			return err
		}
		if err := enc.Encode(struct {
			Text string `json:"text"`
			IDs  []int  `json:"ids"`
		}{t, ids}); err != nil {
			return err
		}
	}
	return nil
}
