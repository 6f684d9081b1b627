// freeseg's page: upload an image, name classes, run POST v1/segment, show
// the overlay, the classes and the per-class heat maps. Plain JavaScript,
// no build step, nothing loaded from elsewhere.
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  const form = $("form");
  const input = $("image");
  const drop = $("drop");
  const preview = $("preview");
  const status = $("status");
  const run = $("run");
  const result = $("result");
  const overlay = $("overlay");
  const caption = $("caption");
  const legend = $("legend");
  const views = $("views");
  const viewList = $("view-list");
  const bgSelect = $("background");
  const bgCustom = $("background-custom");
  const urls = []; // object URLs to release on the next run
  let file = null; // the chosen or dropped image

  function say(msg, isError) {
    status.textContent = msg;
    status.classList.toggle("error", !!isError);
  }

  // The settings: one control per row of the service's table (GET
  // v1/params), with its default, range and help, so the page spells no
  // setting itself. The first few are shown, the others under "More
  // settings". The page's one preference of its own: photos from phones
  // are scaled to 1024 px unless the user asks otherwise.
  const mainSettings = ["method", "partial_labels", "pamr", "max_side"];
  const pageDefaults = { max_side: 1024 };
  const controls = {}; // name -> {param, el}
  let methods = null; // the methods the loaded model can run

  function control(p) {
    const wrap = document.createElement("div");
    const id = "set-" + p.name;
    const label = document.createElement("label");
    label.htmlFor = id;
    label.textContent = p.name.replace(/_/g, " ");
    let el;
    const def = p.name in pageDefaults ? pageDefaults[p.name] : p.default;
    if (p.type === "choice") {
      el = document.createElement("select");
      const choices = p.name === "method" && methods ? p.choices.filter((c) => methods.includes(c)) : p.choices;
      for (const c of choices) {
        const o = document.createElement("option");
        o.value = o.textContent = c;
        o.selected = c === def;
        el.appendChild(o);
      }
    } else if (p.type === "bool") {
      el = document.createElement("input");
      el.type = "checkbox";
      el.checked = !!def;
    } else {
      el = document.createElement("input");
      el.type = p.type === "text" ? "text" : "number";
      if (p.type === "int") el.step = "1";
      if (p.type === "float") el.step = "any";
      if (p.min !== undefined) el.min = String(p.min);
      if (p.max !== undefined) el.max = String(p.max);
      el.value = String(def);
    }
    el.id = el.name = id;
    const help = document.createElement("p");
    help.className = "help";
    help.id = id + "-help";
    help.textContent = p.help;
    el.setAttribute("aria-describedby", help.id);
    if (p.type === "bool") {
      label.prepend(el, " ");
      wrap.append(label, help);
    } else {
      wrap.append(label, el, help);
    }
    controls[p.name] = { param: p, el: el };
    return wrap;
  }

  function value(c) {
    if (c.param.type === "bool") return c.el.checked ? "true" : "false";
    return c.el.value.trim();
  }

  Promise.all([
    fetch("v1/models").then((r) => r.json()).catch(() => ({})),
    fetch("v1/params").then((r) => r.json()),
  ]).then(([m, params]) => {
    const model = m.models && m.models[0];
    if (model) {
      $("model-info").textContent = "Model: " + model.name + " (" + model.architecture + ").";
      methods = model.methods;
    }
    const main = $("settings");
    const more = $("settings-more");
    const byName = {};
    for (const p of params.segment) byName[p.name] = p;
    for (const n of mainSettings) if (byName[n]) main.appendChild(control(byName[n]));
    for (const p of params.segment) if (!mainSettings.includes(p.name)) more.appendChild(control(p));
  }).catch((err) => say("Could not read the service's settings: " + err.message, true));

  function setFile(f) {
    file = f || null;
    if (preview.src) URL.revokeObjectURL(preview.src);
    if (!file) {
      preview.hidden = true;
      preview.removeAttribute("src");
      return;
    }
    preview.src = URL.createObjectURL(file);
    preview.alt = "Preview of " + file.name;
    preview.hidden = false;
    say("");
  }

  input.addEventListener("change", () => setFile(input.files[0]));

  for (const ev of ["dragenter", "dragover"]) {
    drop.addEventListener(ev, (e) => {
      e.preventDefault();
      drop.classList.add("over");
    });
  }
  for (const ev of ["dragleave", "drop"]) {
    drop.addEventListener(ev, () => drop.classList.remove("over"));
  }
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    const f = e.dataTransfer && e.dataTransfer.files && e.dataTransfer.files[0];
    if (!f) return;
    try {
      input.files = e.dataTransfer.files; // keeps the input in step where allowed
    } catch (_) { /* older browsers: the dropped file is used anyway */ }
    setFile(f);
  });

  bgSelect.addEventListener("change", () => {
    bgCustom.hidden = bgSelect.value !== "custom";
    if (!bgCustom.hidden) bgCustom.focus();
  });

  function b64Blob(b64, type) {
    const bin = atob(b64);
    const bytes = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    return new Blob([bytes], { type: type });
  }

  function objectURL(blob) {
    const u = URL.createObjectURL(blob);
    urls.push(u);
    return u;
  }

  // One decimal, two for shares under 0.1%, so that no "0.0%" stands
  // beside a "0.00%": an absent class is "0%", a trace "<0.01%".
  function pct(x) {
    if (!(x > 0)) return "0%";
    if (x < 0.0001) return "<0.01%";
    return (100 * x).toFixed(x < 0.001 ? 2 : 1) + "%";
  }

  function rgb(c) {
    return "rgb(" + c[0] + "," + c[1] + "," + c[2] + ")";
  }

  // show displays the overlay or one class's heat map.
  function show(res, which) {
    if (which === "overlay") {
      overlay.src = "data:image/png;base64," + res.overlay_png;
      const present = res.classes.filter((c) => c.fraction > 0).map((c) => c.name + " " + pct(c.fraction));
      overlay.alt = "Segmentation overlay with a legend: " + present.join(", ");
      caption.textContent = "Overlay (" + res.width + "×" + res.height + "): class colours blended on the photo, legend on the right.";
    } else {
      const h = res.heatmaps[which];
      overlay.src = "data:image/png;base64," + h.png;
      overlay.alt = "Heat map of " + h.name + ": brighter pixels are more likely " + h.name;
      caption.textContent = "Probability of “" + h.name + "” (white = 1, black = 0).";
    }
  }

  function render(res, text) {
    while (urls.length) URL.revokeObjectURL(urls.pop());
    const rows = legend.tBodies[0];
    rows.textContent = "";
    for (const c of res.classes) {
      const tr = document.createElement("tr");
      const th = document.createElement("th");
      th.scope = "row";
      const sw = document.createElement("span");
      sw.className = "swatch";
      sw.style.background = rgb(c.color);
      sw.setAttribute("aria-hidden", "true");
      const name = document.createElement("span");
      name.className = "name";
      name.textContent = c.name;
      th.append(sw, name);
      if (c.synonyms && (c.synonyms.length > 1 || c.synonyms[0] !== c.name)) {
        const syn = document.createElement("span");
        syn.className = "synonyms";
        const list = c.synonyms.length > 6 ? c.synonyms.slice(0, 6).join(", ") + ", …" : c.synonyms.join(", ");
        syn.textContent = " (" + list + ")";
        syn.title = c.synonyms.join(", ");
        th.appendChild(syn);
      }
      const cells = [pct(c.fraction), c.score.toFixed(3), c.index === 0 && res.settings.background ? "background" : (c.kept ? "kept" : "removed")];
      tr.appendChild(th);
      for (const v of cells) {
        const td = document.createElement("td");
        td.textContent = v;
        tr.appendChild(td);
      }
      if (!c.kept) tr.className = "dropped";
      if (c.fraction === 0) tr.classList.add("absent");
      rows.appendChild(tr);
    }

    viewList.textContent = "";
    const choices = [["overlay", "Overlay"]];
    (res.heatmaps || []).forEach((h, i) => choices.push([String(i), h.name]));
    for (const [value, label] of choices) {
      const l = document.createElement("label");
      const r = document.createElement("input");
      r.type = "radio";
      r.name = "view";
      r.value = value;
      r.checked = value === "overlay";
      r.addEventListener("change", () => show(res, value === "overlay" ? "overlay" : Number(value)));
      l.append(r, " " + (value === "overlay" ? label : label + " heat map"));
      viewList.appendChild(l);
    }
    views.hidden = choices.length < 2;
    show(res, "overlay");

    const dlLabels = $("dl-labels");
    dlLabels.href = objectURL(b64Blob(res.labels_png, "image/png"));
    const base = (file && file.name ? file.name.replace(/\.[^.]*$/, "") : "image");
    dlLabels.download = base + ".labels.png";
    const dlJSON = $("dl-json");
    dlJSON.href = objectURL(new Blob([text], { type: "application/json" }));
    dlJSON.download = base + ".json";

    const t = res.timing;
    $("timing").textContent = "Queue " + t.queue_ms + " ms, decoding " + t.decode_ms + " ms, inference " + t.inference_ms +
      " ms, encoding " + t.encode_ms + " ms; " + res.model + ", " + res.settings.method + ".";
    result.hidden = false;
  }

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const classes = $("classes").value.trim();
    if (!file) {
      say("Choose an image first.", true);
      input.focus();
      return;
    }
    if (!classes) {
      say("Type at least one class name.", true);
      $("classes").focus();
      return;
    }
    const fd = new FormData();
    fd.append("image", file, file.name || "image");
    fd.append("classes", classes);
    let bg = bgSelect.value;
    if (bg === "custom") {
      bg = bgCustom.value.trim();
      if (!bg) {
        say("Type the background names, or pick default or none.", true);
        bgCustom.focus();
        return;
      }
    }
    fd.append("background", bg);
    // Send what differs from the service's defaults.
    for (const [name, c] of Object.entries(controls)) {
      const v = value(c);
      if (v === "") {
        say("Give a value for " + name.replace(/_/g, " ") + ".", true);
        c.el.focus();
        return;
      }
      if (v !== String(c.param.default)) fd.append(name, v);
    }
    if ($("heatmaps").checked) fd.append("heatmaps", "1");

    run.disabled = true;
    form.setAttribute("aria-busy", "true");
    say("Segmenting…");
    const t0 = performance.now();
    try {
      const r = await fetch("v1/segment", { method: "POST", body: fd });
      const text = await r.text();
      let res;
      try {
        res = JSON.parse(text);
      } catch (_) {
        throw new Error("the server answered " + r.status + " without JSON");
      }
      if (!r.ok) {
        let msg = res.error || ("HTTP " + r.status);
        if (r.status === 429) msg += " (retry in " + (r.headers.get("Retry-After") || "a few") + " s)";
        throw new Error(msg);
      }
      render(res, text);
      say("Done in " + ((performance.now() - t0) / 1000).toFixed(1) + " s.");
      $("result-title").focus();
    } catch (err) {
      say("Error: " + err.message, true);
    } finally {
      run.disabled = false;
      form.removeAttribute("aria-busy");
    }
  });
})();
