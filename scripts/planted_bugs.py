#!/usr/bin/env python3
"""Plants each bug of issue 15's audit in a copy of the repository and runs
the tests that should kill it (docs/testing.md). The working tree is never
modified. Usage, from the repository root:

    FREESEG_GOLDEN=../shared/golden scripts/planted_bugs.py [NAME_SUBSTRING]

Exit status 1 when a planted bug survives.
"""
import os, shutil, subprocess, sys, tempfile

# (name, file, original text (every occurrence is replaced), planted text,
#  package, test regex)
BUGS = [
    ("area filter disabled (engine)", "engine.go", "if o.AreaThd > 0 {", "if o.AreaThd > 1 {",
     ".", "TestGoldenSegCV2Engine"),
    ("area filter keeps every class (seg)", "seg/postprocess.go", "keep[c] = float64(area[c]) > thd*float64(total)", "keep[c] = true",
     "./seg", "TestAreaFilterHandCase"),
    ("PAMR guide resized with align_corners=True", "engine.go", "interp.ResizeBilinearTorch(x, 3, h, w, img.H, img.W, false)",
     "interp.ResizeBilinearTorch(x, 3, h, w, img.H, img.W, true)", ".", "TestPAMRGuideAlignCorners"),
    ("whole-image upsampling with align_corners=True", "seg/slide.go", "res.Data = interp.ResizeBilinearTorch(grid, Q, f.GH, f.GW, outH, outW, false)",
     "res.Data = interp.ResizeBilinearTorch(grid, Q, f.GH, f.GW, outH, outW, true)", ".", "TestWholeImageUpsamplingAlignCorners"),
    ("ClearCLIP pad sides swapped", "seg/slide.go", "return t / 2, t - t/2", "return t - t/2, t / 2",
     "./seg", "TestPadToPatchSides"),
    ("explain multi replaced by raw cosine", "explain.go", "s = seg.FeatureSurgeryMulti(cos, N, K)", "s = cos",
     ".", "TestExplainModesGolden"),
    ("explain redundant replaced by raw cosine", "explain.go", "s = seg.FeatureSurgeryRedundant(f.Image(0), N, E, G, K, r)", "s = cos; _ = r",
     ".", "TestExplainModesGolden"),
    ("engine ignores LogitScale (always 40)", "engine.go", "seg.Probabilities(lg.Data, Q, HW, classOf, o.LogitScale, keep)",
     "seg.Probabilities(lg.Data, Q, HW, classOf, 40, keep)", ".", "TestLogitScaleIsUsed"),
    ("service heat maps all class 0", "server/segment.go", "greyBase64(r.Probs[c*HW:(c+1)*HW]", "greyBase64(r.Probs[0:HW]",
     "./server", "TestSegmentService"),
    ("service label PNG all zeros", "server/segment.go", "labelsBase64(r.Labels, r.Width", "labelsBase64(make([]int32, len(r.Labels)), r.Width",
     "./server", "TestSegmentService"),
    ("CLI labels.png all zeros", "export/segment.go", "imageio.WritePalettePNG(w, r.Labels, r.Width", "imageio.WritePalettePNG(w, make([]int32, len(r.Labels)), r.Width",
     "./cmd/freeseg", "TestSegmentCLI"),
    ("smooth-min top-q ceil -> floor", "seg/partial.go", "int(math.Ceil(o.TopQ*n))", "int(math.Floor(o.TopQ*n))",
     "./seg", "TestSmoothMinTopQRounding"),
    ("classifier cache key ignores the template set", "classifier.go", "tplKey = hashStrings(templates...)[:16]", "tplKey = hashStrings()[:16]",
     ".", "TestClassifierCacheKey"),
    ("classifier disk cache ignores the model digest", "classifier.go", "filepath.Join(c.Dir, \"classifiers\", digest[:min(32, len(digest))]", "filepath.Join(c.Dir, \"classifiers\", \"any\"",
     ".", "TestClassifierCacheKey"),
    ("classifier memory cache ignores the model", "classifier.go", 'fmt.Sprintf("%d\\x00%s\\x00%s", id, tplKey, n)', 'fmt.Sprintf("%d\\x00%s\\x00%s", 0*id, tplKey, n)',
     ".", "TestClassifierCacheKey"),
    ("classifier memory cache ignores the name", "classifier.go", 'fmt.Sprintf("%d\\x00%s\\x00%s", id, tplKey, n)', 'fmt.Sprintf("%d\\x00%s\\x00%s", id, tplKey, "")',
     ".", "TestClassifierCacheKey"),
    ("overlay colours: background rule removed from ClassColors", "render.go", "if background {\n\t\treturn imageio.Palette(C)\n\t}", "",
     ".", "TestOverlayColours"),
    ("overlay colours: background pixels tinted", "render.go", "if background {\n\t\t// A label outside", "if false {\n\t\t// A label outside",
     ".", "TestOverlayColours"),
    ("eval scores all-zero predictions", "evaljob/job.go", "			return res.Labels, nil", "			return make([]int32, len(res.Labels)), nil",
     "./cmd/freeseg", "TestEvalConfusionEqualsEngine"),
]


def main():
    only = sys.argv[1] if len(sys.argv) > 1 else ""
    root = os.getcwd()
    golden = os.environ.get("FREESEG_GOLDEN", "")
    if not golden:
        sys.exit("set FREESEG_GOLDEN: most killers need the golden data")
    env = dict(os.environ, FREESEG_GOLDEN=os.path.abspath(os.path.join(root, golden)), FREESEG_REQUIRE_GOLDEN="1")
    tmp = tempfile.mkdtemp(prefix="freeseg-planted-")
    survived = 0
    try:
        work = os.path.join(tmp, "repo")
        shutil.copytree(root, work, ignore=shutil.ignore_patterns(".git", "freeseg-out"))
        for name, path, old, new, pkg, run in BUGS:
            if only and only not in name:
                continue
            p = os.path.join(work, path)
            src = open(p).read()
            if src.count(old) == 0:
                print(f"STALE    {name}: {path} no longer holds the original text")
                survived += 1
                continue
            open(p, "w").write(src.replace(old, new))
            r = subprocess.run(["go", "test", "-count=1", "-run", run, pkg], cwd=work, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            open(p, "w").write(src)
            if r.returncode == 0:
                print(f"SURVIVED {name} ({path}; {pkg} -run {run})")
                survived += 1
            elif "build failed" in r.stdout or "[setup failed]" in r.stdout:
                print(f"NOBUILD  {name}: {r.stdout[-400:]}")
                survived += 1
            else:
                print(f"killed   {name} ({pkg} -run {run})")
    finally:
        shutil.rmtree(tmp)
    sys.exit(1 if survived else 0)


if __name__ == "__main__":
    main()
