package clip

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// hfTower is the part of a Hugging Face CLIPConfig tower freeseg reads.
type hfTower struct {
	HiddenAct string `json:"hidden_act"`
	Heads     int    `json:"num_attention_heads"`
}

// maxConfigBytes bounds the configuration files read (they are a few KB).
const maxConfigBytes = 1 << 20

func readConfig(path string, v any) (bool, error) {
	st, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	} else if err != nil {
		return false, err
	}
	if st.Size() > maxConfigBytes {
		return false, fmt.Errorf("%s: %d bytes, more than a model configuration holds", path, st.Size())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return false, err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return false, fmt.Errorf("%s: %w", path, err)
	}
	return true, nil
}

// applyFolderConfig reads what the tensor shapes do not tell from the
// model folder: the MLP activation (QuickGELU for OpenAI's models, exact
// GELU for open_clip's LAION-trained ones) and, where given, the head
// counts. Sources, in order: config.json (Hugging Face CLIPConfig:
// text_config / vision_config hidden_act and num_attention_heads), then
// open_clip_config.json (model_cfg.quick_gelu: open_clip uses GELU unless
// it is set, and names its QuickGELU models "...-quickgelu"). Without
// either, QuickGELU, as in every OpenAI checkpoint.
func applyFolderConfig(m *Model, dir string) error {
	var hf struct {
		Text   *hfTower `json:"text_config"`
		Vision *hfTower `json:"vision_config"`
	}
	p := filepath.Join(dir, "config.json")
	ok, err := readConfig(p, &hf)
	if err != nil {
		return err
	}
	if ok && (hf.Text != nil || hf.Vision != nil) {
		act := ""
		for _, tw := range []*hfTower{hf.Vision, hf.Text} {
			if tw == nil || tw.HiddenAct == "" {
				continue
			}
			a, err := parseAct(tw.HiddenAct)
			if err != nil {
				return fmt.Errorf("%s: %w", p, err)
			}
			if act != "" && a != act {
				return fmt.Errorf("%s: the towers use different activations (%s, %s); freeseg supports one per model", p, act, a)
			}
			act = a
		}
		if hf.Vision != nil && hf.Vision.Heads > 0 {
			if err := setHeads(m.Vision.Blocks, m.Config.VisionWidth, hf.Vision.Heads, p); err != nil {
				return err
			}
			m.Config.VisionHeads = hf.Vision.Heads
		}
		if hf.Text != nil && hf.Text.Heads > 0 {
			if err := setHeads(m.Text.Blocks, m.Config.TextWidth, hf.Text.Heads, p); err != nil {
				return err
			}
			m.Config.TextHeads = hf.Text.Heads
		}
		if act != "" {
			return m.SetActivation(act)
		}
	}
	var oc struct {
		ModelName string `json:"model_name"`
		ModelCfg  *struct {
			QuickGELU bool `json:"quick_gelu"`
		} `json:"model_cfg"`
	}
	p = filepath.Join(dir, "open_clip_config.json")
	ok, err = readConfig(p, &oc)
	if err != nil {
		return err
	}
	if ok && oc.ModelCfg != nil {
		if oc.ModelCfg.QuickGELU || strings.HasSuffix(strings.ToLower(oc.ModelName), "-quickgelu") {
			return m.SetActivation(ActQuickGELU)
		}
		return m.SetActivation(ActGELU)
	}
	return nil
}

// parseAct maps the Hugging Face activation names freeseg runs.
func parseAct(s string) (string, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "quick_gelu":
		return ActQuickGELU, nil
	case "gelu":
		return ActGELU, nil
	}
	return "", fmt.Errorf("hidden_act %q is not supported (want quick_gelu or gelu)", s)
}

func setHeads(blocks []Block, width, heads int, path string) error {
	if heads < 1 || width%heads != 0 {
		return fmt.Errorf("%s: num_attention_heads %d does not divide the width %d", path, heads, width)
	}
	for i := range blocks {
		blocks[i].Heads = heads
	}
	return nil
}
