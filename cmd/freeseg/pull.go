package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"

	"github.com/freeseg/freeseg"
	"github.com/freeseg/freeseg/hub"
)

// modelHelp is the help text of the --model flags.
const modelHelp = "model: a folder, a checkpoint file or a Hugging Face Hub id such as " + hub.DefaultModel +
	" (ORG/NAME[@REVISION], downloaded into the cache on first use; default " + hub.DefaultModel + ")"

// modelLog receives the notes and progress bars of models downloaded on
// first use by loadModel (which has no env).
var modelLog io.Writer = os.Stderr

func init() {
	register(&command{
		name:    "pull",
		summary: "download a CLIP model from the Hugging Face Hub into the cache (--list shows the known models)",
		usage:   "[--revision R] [--offline] [--list] [ID...]",
		run:     runPull,
	})
}

func runPull(e *env, args []string) error {
	fs := newFlags(e, commands["pull"])
	revision := fs.String("revision", "", "branch, tag or commit to download (default main; ID@REVISION works too)")
	offline := fs.Bool("offline", false, "use the cache only, no network (also FREESEG_OFFLINE=1 or HF_HUB_OFFLINE=1)")
	list := fs.Bool("list", false, "list the known models, marking the cached ones")
	ids, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	opt := hub.DefaultOptions()
	opt.Progress = e.stderr
	opt.Revision = *revision
	if *offline {
		opt.Offline = true
	}
	if *list {
		if len(ids) > 0 {
			return freeseg.Usagef("--list takes no ID")
		}
		if err := hub.WriteList(e.stdout, opt); err != nil {
			return err
		}
		fmt.Fprintln(e.stderr, opt.Where())
		return nil
	}
	if len(ids) == 0 {
		ids = []string{hub.DefaultModel}
	}
	for _, id := range ids {
		if !hub.IsID(id) {
			_, _, err := hub.ParseID(id)
			return freeseg.AsUsage(err)
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	for _, id := range ids {
		dir, err := hub.Pull(ctx, id, opt)
		if err != nil {
			return err
		}
		fmt.Fprintln(e.stdout, dir)
	}
	return nil
}
