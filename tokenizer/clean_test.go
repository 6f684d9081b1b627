package tokenizer

import (
	"reflect"
	"testing"
)

func TestFixText(t *testing.T) {
	for in, want := range map[string]string{
		// Clean text is left alone.
		"a photo of a cat.":        "a photo of a cat.",
		"naïve résumé café":        "naïve résumé café",
		"中文 text 🙂":                "中文 text 🙂",
		"Straße»":                  "Straße»", // DF BB would decode to an NKo letter: kept
		"«PEUT-ÊTRE»":              "«PEUT-ÊTRE»",
		"£5 ©2020 ±3 ½ ¿qué? ¡sí!": "£5 ©2020 ±3 ½ ¿qué? ¡sí!",
		// Curly quotes.
		"don’t ‘x’ “y” „z‟ ‚w‛": "don't 'x' \"y\" \"z\" 'w'",
		// Mojibake (UTF-8 read as Windows-1252 or Latin-1).
		"cafÃ©":              "café",
		"naÃ¯ve rÃ©sumÃ©":    "naïve résumé",
		"donâ€™t":            "don't",
		"â€œquotedâ€\u009d":  "\"quoted\"", // Latin-1 reading of 0x9D
		"emoji ðŸ™‚ ok":      "emoji 🙂 ok",
		"ä¸\u00adæ–‡":        "中文",
		"Ã‰tÃ©":              "Été",
		"naïve cafÃ©":        "naïve café", // mixed: only the broken part changes
		"Ã":                  "Ã",          // incomplete: kept
		"Ã©Ã":                "éÃ",
		"â€":                 "â€",
		"ÐŸÑ€Ð¸Ð²ÐµÑ‚":       "Привет",
		"\u00c3\u00a9\u0301": "é\u0301",
	} {
		if got := FixText(in); got != want {
			t.Errorf("FixText(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestClean(t *testing.T) {
	for in, want := range map[string]string{
		"  A Photo Of  The   DOG!!  ": "a photo of the dog!!",
		"tab\there\nnew\r\nline":      "tab here new line",
		"a\u00a0b\u2003c\u3000d":      "a b c d",
		"a\x1cb":                      "a\x1cb", // not \s for the regex module...
		"\x1c\x1fa b\x1d":             "a b",    // ...but str.strip removes it
		"&amp;amp; &lt;tag&gt;":       "& <tag>",
		"&#38;amp;":                   "&",
		"&#1;&#127;x&#0;":             "x\ufffd",
		"&nGt;":                       "\u226b\u20d2",
		"&ampx":                       "&x",
		"İstanbul":                    "i\u0307stanbul",
		"ΟΔΟΣ ΟΔΟΣ.":                  "οδος οδος.",
		"ΣΑΣ":                         "σας",
		"Σ":                           "σ",
		"e\u0301":                     "é", // NFC
		"cafÃ©":                       "café",
		"don’t":                       "don't",
		"bad\xffutf8\xe2\x82":         "bad\ufffdutf8\ufffd",
		"":                            "",
		"   ":                         "",
	} {
		if got := Clean(in); got != want {
			t.Errorf("Clean(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestPreTokens(t *testing.T) {
	for in, want := range map[string][]string{
		"don't stop-sign 123":          {"don", "'t", "stop", "-", "sign", "1", "2", "3"},
		"it's 3.14 o'clock":            {"it", "'s", "3", ".", "1", "4", "o", "'", "clock"},
		"we're they've i'm we'll i'd":  {"we", "'re", "they", "'ve", "i", "'m", "we", "'ll", "i", "'d"},
		"..'s":                         {"..'", "s"}, // a punctuation run takes the apostrophe
		"'sa":                          {"'s", "a"},
		"'r 'x":                        {"'", "r", "'", "x"},
		"a<|endoftext|>b":              {"a", "<|endoftext|>", "b"},
		"!<|endoftext|>":               {"!<|", "endoftext", "|>"},
		"<|startoftext|><|endoftext|>": {"<|startoftext|>", "<|endoftext|>"},
		"it'ſ":                         {"it", "'ſ"},
		"a\u0345b .\u0345.":            {"a", "b", ".", "."},
		"x²½ ١٢":                       {"x", "²", "½", "١", "٢"},
		"中文 text":                      {"中文", "text"},
		"a\x1cb":                       {"a", "\x1c", "b"},
		"🙂👍 ok":                        {"🙂👍", "ok"},
	} {
		var got []string
		sc := scanner{s: in}
		for {
			tok, ok := sc.next()
			if !ok {
				break
			}
			got = append(got, tok)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("pre-tokens of %q = %q, want %q", in, got, want)
		}
	}
}

func TestFixTextChangesTokens(t *testing.T) {
	tk := Default()
	// With ftfy, CLIP reads a curly apostrophe as the contraction.
	if got, want := tk.Encode("don’t"), tk.Encode("don't"); !reflect.DeepEqual(got, want) {
		t.Errorf("don’t → %v, want %v", got, want)
	}
	if got, want := tk.Encode("cafÃ© au lait"), tk.Encode("café au lait"); !reflect.DeepEqual(got, want) {
		t.Errorf("mojibake → %v, want %v", got, want)
	}
}
