package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/freeseg/freeseg/beam/internal/seaweed"
	"github.com/freeseg/freeseg/beam/pipeline"
	"github.com/freeseg/freeseg/beam/storage"
)

// Inputs from one bucket of a real S3 server (SeaweedFS), outputs to
// another: the same bytes as a local run, and a rerun skips the done
// images there too.
func TestSegmentS3(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the S3 test starts a SeaweedFS server")
	}
	fast := fastArgs(t)
	imgs := testImages(t, 3)
	names := outputNames(3)
	srv := seaweed.Start(t)
	srv.Env(t)
	for _, b := range []string{"photos", "results"} {
		if err := srv.MakeBucket(b); err != nil {
			t.Fatal(err)
		}
	}
	ctx := context.Background()
	st, err := storage.Open(ctx, "s3://photos")
	if err != nil {
		t.Fatal(err)
	}
	var list []string
	for i, p := range imgs {
		key := "s3://photos/set/" + filepath.Base(p)
		if i == 2 {
			key = "s3://photos/other/" + filepath.Base(p)
		}
		if err := st.Write(ctx, key, readFile(t, p)); err != nil {
			t.Fatalf("upload to SeaweedFS: %v", err)
		}
		list = append(list, key)
	}
	// The input list is itself an object.
	if err := st.Write(ctx, "s3://photos/list.txt", []byte("s3://photos/set/*.png\n"+list[2]+"\n")); err != nil {
		t.Fatal(err)
	}

	local := filepath.Join(t.TempDir(), "local")
	args := append([]string{"segment", "--classes", "cat; dog"}, fast...)
	beamOK(t, append(args, "--output", local, "--input", imgs[0], "--input", imgs[1], "--input", imgs[2])...)

	out := beamOK(t, append(args, "--output", "s3://results/run1", "--input", "@s3://photos/list.txt")...)
	if !strings.Contains(out, "3 images: 3 segmented") {
		t.Fatalf("S3 run:\n%s", out)
	}
	for _, n := range names {
		for _, ext := range []string{".labels.png", ".overlay.png"} {
			b, err := st.Read(ctx, "s3://results/run1/"+n+ext)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(b, readFile(t, filepath.Join(local, n+ext))) {
				t.Errorf("s3 %s%s differs from the local run's", n, ext)
			}
		}
		b, err := st.Read(ctx, "s3://results/run1/"+n+".json")
		if err != nil {
			t.Fatal(err)
		}
		want := string(readFile(t, filepath.Join(local, n+".json")))
		for i, p := range imgs {
			want = strings.ReplaceAll(want, `"image": "`+p+`"`, `"image": "`+list[i]+`"`)
		}
		want = strings.ReplaceAll(want, local+"/", "s3://results/run1/")
		if string(b) != want {
			t.Errorf("s3 %s.json:\n%s\nwant:\n%s", n, b, want)
		}
	}
	sum, err := st.Read(ctx, "s3://results/run1/summary.jsonl")
	if err != nil || strings.Count(string(sum), "\n") != 3 {
		t.Fatalf("summary on S3: %q %v", sum, err)
	}
	// The summary's rows are the local run's, the image paths aside.
	var s3Rows []pipeline.Row
	for _, l := range strings.Split(strings.TrimSpace(string(sum)), "\n") {
		var r pipeline.Row
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(r.Image, "s3://photos/") {
			t.Errorf("row image %q", r.Image)
		}
		r.Image = ""
		s3Rows = append(s3Rows, r)
	}
	localRows := stable(readSummary(t, local))
	for i := range localRows {
		localRows[i].Image = ""
	}
	if got := stable(s3Rows); !reflect.DeepEqual(got, localRows) {
		t.Errorf("S3 summary rows:\n%+v\nlocal:\n%+v", got, localRows)
	}

	// The model itself from the store: workers copy it into their cache.
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	ms, err := storage.Open(ctx, "s3://models")
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.MakeBucket("models"); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"config.json", "model.safetensors", "vocab.json", "merges.txt"} {
		if err := ms.Write(ctx, "s3://models/tiny-clip/"+f, readFile(t, filepath.Join(fast[1], f))); err != nil {
			t.Fatal(err)
		}
	}
	fromStore := append([]string{}, args...)
	fromStore[4] = "s3://models/tiny-clip" // --model's value
	beamOK(t, append(fromStore, "--output", "s3://results/run2", "--input", "@s3://photos/list.txt")...)
	for _, n := range names {
		b, err := st.Read(ctx, "s3://results/run2/"+n+".labels.png")
		if err != nil || !bytes.Equal(b, readFile(t, filepath.Join(local, n+".labels.png"))) {
			t.Errorf("model from S3: %s.labels.png differs from the local run's (%v)", n, err)
		}
	}

	// A rerun on S3 finds the images done.
	out = beamOK(t, append(args, "--output", "s3://results/run1", "--input", "@s3://photos/list.txt")...)
	if !strings.Contains(out, "3 images: 0 segmented, 3 already done") {
		t.Errorf("S3 rerun:\n%s", out)
	}
}
