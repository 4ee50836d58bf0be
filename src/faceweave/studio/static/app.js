// faceweave studio: fills the pages from the API. No build step, no framework.
"use strict";

const studio = (() => {
  const $ = (id) => document.getElementById(id);
  const text = (el, value) => { if (el) el.textContent = value; };

  // The token travels in a header (API) or in the URL (links, media, events), never in a cookie.
  const token = document.querySelector("meta[name=faceweave-token]").content;
  const withToken = (path) => path + (path.includes("?") ? "&" : "?") + "token=" + encodeURIComponent(token);
  document.querySelectorAll("a[href^='/']").forEach((a) => { a.href = withToken(a.getAttribute("href")); });

  async function api(path, options = {}) {
    const headers = { "x-faceweave-token": token, ...(options.headers || {}) };
    const response = await fetch(path, { ...options, headers, credentials: "omit" });
    const type = response.headers.get("content-type") || "";
    const body = type.includes("json") ? await response.json() : await response.text();
    if (!response.ok) throw new Error((body && (body.error || body.detail)) || String(body));
    return body;
  }

  function post(path, body) {
    return api(path, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body || {}) });
  }

  function index() {
    $("create").addEventListener("submit", async (event) => {
      event.preventDefault();
      const form = event.target;
      text($("create-error"), form.demo.checked ? "writing the demo clips ..." : "");
      try {
        const made = await post("/api/workspaces", { name: form.name.value, demo: form.demo.checked });
        location.href = withToken("/w/" + encodeURIComponent(made.name));
      } catch (error) { text($("create-error"), error.message); }
    });
  }

  function drawLosses(canvas, data) {
    const ctx = canvas.getContext("2d");
    const w = canvas.width, h = canvas.height, pad = 34;
    ctx.clearRect(0, 0, w, h);
    ctx.strokeStyle = "#bbb"; ctx.strokeRect(pad, 8, w - pad - 8, h - pad - 8);
    const its = data.iteration;
    if (!its.length) { ctx.fillText("no training steps yet", pad + 10, h / 2); return; }
    const all = data.src.concat(data.dst).filter((v) => v > 0);
    const lo = Math.log(Math.min(...all)), hi = Math.log(Math.max(...all)) + 1e-9;
    const x0 = its[0], x1 = its[its.length - 1] + 1e-9;
    const X = (i) => pad + (w - pad - 8) * (i - x0) / (x1 - x0);
    const Y = (v) => 8 + (h - pad - 8) * (1 - (Math.log(Math.max(v, 1e-9)) - lo) / (hi - lo || 1));
    for (const [key, colour] of [["src", "#1f77b4"], ["dst", "#d62728"]]) {
      ctx.beginPath(); ctx.strokeStyle = colour;
      data[key].forEach((v, k) => { if (k) ctx.lineTo(X(its[k]), Y(v)); else ctx.moveTo(X(its[k]), Y(v)); });
      ctx.stroke();
    }
    ctx.fillStyle = "#333";
    ctx.fillText(`step ${its[0]}`, pad, h - 12);
    ctx.fillText(`step ${its[its.length - 1]}`, w - 90, h - 12);
    ctx.fillText("loss (log): src blue, dst red", pad + 8, 22);
    canvas.dataset.points = String(its.length);
    canvas.dataset.last = String(its[its.length - 1]);
  }

  function jobRow(job) {
    const row = document.createElement("tr");
    row.dataset.id = job.id; row.dataset.state = job.state; row.dataset.kind = job.kind;
    const started = job.started ? new Date(job.started * 1000).toLocaleTimeString() : "";
    row.innerHTML = `<td></td><td class="state"></td><td>${started}</td><td></td>`;
    row.cells[0].textContent = job.kind;
    row.cells[1].textContent = job.state + (job.returncode !== null && job.state === "failed" ? ` (exit ${job.returncode})` : "");
    const act = row.cells[3];
    const button = (label, action) => {
      const b = document.createElement("button"); b.textContent = label; b.dataset.action = action;
      b.addEventListener("click", async () => {
        try { await post(`/api/jobs/${job.id}/${action}`); } catch (error) { text($("job-error"), error.message); }
      });
      act.appendChild(b);
    };
    if (job.state === "running" || job.state === "queued") button("cancel", "cancel");
    if (["interrupted", "cancelled", "failed"].includes(job.state)) button("resume", "resume");
    const log = document.createElement("a"); log.textContent = "log"; log.href = withToken(`/api/jobs/${job.id}/log`); log.target = "_blank";
    act.appendChild(log);
    return row;
  }

  function workspace(name) {
    const base = "/api/w/" + encodeURIComponent(name);
    const media = (path, stamp) => withToken(`/media/${encodeURIComponent(name)}/${path}?v=${stamp || 0}`);
    let shown = {};

    for (const side of ["src", "dst"]) {
      $("file-" + side).addEventListener("change", async (event) => {
        const file = event.target.files[0];
        if (!file) return;
        text($("upload-" + side), "uploading ...");
        const suffix = (file.name.match(/\.[A-Za-z0-9]+$/) || [".mp4"])[0];
        try {
          await api(`${base}/input/${side}`, { method: "PUT", body: file, headers: { "x-file-suffix": suffix } });
          text($("upload-" + side), "uploaded");
        } catch (error) { text($("upload-" + side), error.message); }
      });
      $("photos-" + side).addEventListener("change", async (event) => {
        // One request per picture, each checked and written whole; a refused one is reported and
        // the rest go on (names already there are skipped, so picking the same files again adds
        // only what is missing).
        const files = Array.from(event.target.files);
        let done = 0;
        const refused = [];
        for (const file of files) {
          text($("upload-" + side), `uploading photo ${done + refused.length + 1} of ${files.length} ...`);
          try {
            await api(`${base}/photos/${side}`, { method: "PUT", body: file, headers: { "x-file-name": encodeURIComponent(file.name) } });
            done += 1;
          } catch (error) { refused.push(error.message); }
        }
        text($("upload-" + side), `uploaded ${done} photo(s)` + (refused.length ? `; ${refused.length} not: ${refused.slice(0, 3).join("; ")}` : ""));
        event.target.value = "";
      });
      $("remove-" + side).addEventListener("click", async () => {
        try {
          const got = await api(`${base}/input/${side}`, { method: "DELETE" });
          text($("upload-" + side), `${got.moved} file(s) moved to studio/removed/`);
          $("video-" + side).removeAttribute("src"); $("video-" + side).removeAttribute("poster"); shown[side] = null;
        } catch (error) { text($("upload-" + side), error.message); }
      });
      $("link-" + side).addEventListener("click", async () => {
        text($("upload-" + side), "copying ...");
        try {
          const got = await post(`${base}/link/${side}`, { path: $("path-" + side).value });
          text($("upload-" + side), got.images ? `copied ${got.images} photo(s)` : "copied the video");
        } catch (error) { text($("upload-" + side), error.message); }
      });
    }
    document.querySelectorAll("button[data-job]").forEach((b) => b.addEventListener("click", async () => {
      const options = { iterations: $("iterations").value, time: $("minutes").value };
      text($("job-error"), "");
      try { await post(base + "/jobs", { kind: b.dataset.job, options }); } catch (error) { text($("job-error"), error.message); }
    }));
    document.querySelectorAll("input[name=view]").forEach((r) => r.addEventListener("change", () => view(r.value)));

    function view(mode) {
      const box = $("result-view");
      box.className = mode === "side" ? "side" : "";
      $("video-result").style.display = mode === "dst" ? "none" : "";
      $("video-dst2").style.display = mode === "result" ? "none" : "";
    }
    view("result");

    function stepsLeft(state, last) {
      // A running train or run job with a step target: what is left at the newest step's speed.
      const job = state.jobs.find((j) => j.state === "running" && (j.kind === "train" || j.kind === "run"));
      const at = job ? job.args.indexOf("--iterations") : -1;
      if (at < 0 || !last.s_per_it) return "";
      const left = Math.round((Number(job.args[at + 1]) - last.iteration) * last.s_per_it);
      if (left <= 0) return "";
      return `; about ${left >= 60 ? Math.round(left / 60) + " min" : left + " s"} left`;
    }

    let started = null;
    function eta(p) {
      // From the rate since this counter was first seen: the CLI's progress bars do the same.
      if (!started || started.label !== p.label || p.done < started.done) started = { label: p.label, done: p.done, time: p.time };
      const rate = (p.done - started.done) / Math.max(p.time - started.time, 1e-3);
      if (rate <= 0 || p.done >= p.total) return "";
      const left = Math.round((p.total - p.done) / rate);
      return `, about ${left >= 60 ? Math.round(left / 60) + " min" : left + " s"} left`;
    }

    async function render(state) {
      for (const side of ["src", "dst"]) {
        const probe = state.inputs[side];
        text($("probe-" + side), probe ? JSON.stringify(probe, null, 1) : "no video yet");
        const stamp = probe ? probe.bytes : 0;
        if (probe && probe.bytes && shown[side] !== stamp) { $("video-" + side).src = media(`data_${side}.mp4`, stamp); shown[side] = stamp; }
        if (probe && probe.first) $("video-" + side).poster = media(`data_${side}/${encodeURIComponent(probe.first)}`, probe.photos);
      }
      text($("faces"), `faces: src ${state.faces.src}, dst ${state.faces.dst}`);
      const body = $("jobs").tBodies[0];
      body.replaceChildren(...state.jobs.slice().reverse().map(jobRow));
      const p = state.progress;
      text($("progress"), p ? `${p.label}: ${p.done}/${p.total}${eta(p)}` : "");
      if (state.messages && state.messages.length) {
        $("messages").textContent = ($("messages").textContent + "\n" + state.messages.join("\n")).split("\n").slice(-200).join("\n").trim();
      }
      const model = state.model;
      const last = model.last;
      const spent = model.elapsed_s ? `; trained ${Math.round(model.elapsed_s / 60)} min` : "";
      text($("training"), last ? `step ${last.iteration}: loss src ${last.loss_src}, dst ${last.loss_dst}; ${last.samples_per_s} faces/s${spent}${stepsLeft(state, last)}` : "not trained yet");
      if (model.preview_mtime && shown.preview !== model.preview_mtime) {
        $("preview").src = media("model/preview.png", model.preview_mtime); shown.preview = model.preview_mtime;
      }
      const kept = $("checkpoints");
      if (kept.dataset.names !== model.checkpoints.join(",")) {
        kept.dataset.names = model.checkpoints.join(",");
        kept.replaceChildren(document.createTextNode(model.checkpoints.length ? "resume from: " : ""));
        for (const checkpoint of model.kept) {
          const name = checkpoint.name;
          if (checkpoint.preview) {
            const img = document.createElement("img"); img.className = "thumb"; img.title = `${name} (step ${checkpoint.iteration})`;
            img.src = media(checkpoint.preview, checkpoint.iteration); kept.appendChild(img);
          }
          const b = document.createElement("button"); b.textContent = name; b.dataset.checkpoint = name;
          b.addEventListener("click", async () => {
            const options = { iterations: $("iterations").value, time: $("minutes").value, resume_from: name };
            try { await post(base + "/jobs", { kind: "train", options }); } catch (error) { text($("job-error"), error.message); }
          });
          kept.appendChild(b);
        }
      }
      if (last && shown.step !== last.iteration) { shown.step = last.iteration; drawLosses($("losses"), await api(base + "/losses")); }
      if (state.result.exists && shown.result !== state.result.mtime) {
        shown.result = state.result.mtime;
        $("video-result").src = media("result.mp4", state.result.mtime);
        $("video-dst2").src = media("data_dst.mp4", state.result.mtime);
        const verdict = await api(base + "/verify");
        text($("verdict"), "verify: " + verdict.verdict);
        text($("verify"), verdict.lines.join("\n"));
      }
      $("eval").innerHTML = state.eval ? `<a href="${media("eval/report.html", state.result.mtime)}" target="_blank">eval report</a>` : "";
    }

    const events = new EventSource(withToken(base + "/events"));
    events.addEventListener("state", (event) => render(JSON.parse(event.data)));
    drawLosses($("losses"), { iteration: [], src: [], dst: [] });
  }

  async function options(name) {
    const base = "/api/w/" + encodeURIComponent(name);
    const form = $("options");
    const { fields } = await api(base + "/options");
    let fieldset = null, section = "";
    for (const f of fields) {
      if (f.section !== section) {
        section = f.section; fieldset = document.createElement("fieldset");
        fieldset.innerHTML = `<legend>[${section}]</legend>`; form.appendChild(fieldset);
      }
      const label = document.createElement("label");
      let input;
      if (f.choices.length) {
        input = document.createElement("select");
        for (const c of f.choices) { const o = document.createElement("option"); o.value = o.textContent = c; input.appendChild(o); }
        input.value = String(f.value);
      } else if (f.kind === "bool") {
        input = document.createElement("input"); input.type = "checkbox"; input.checked = !!f.value;
      } else {
        input = document.createElement("input"); input.value = String(f.value);
        if (f.kind !== "str") { input.inputMode = "decimal"; input.size = 10; }
      }
      input.name = f.key; input.dataset.kind = f.kind; input.dataset.initial = f.kind === "bool" ? String(!!f.value) : String(f.value);
      label.textContent = f.key.split(".")[1] + " ";
      label.appendChild(input);
      const help = document.createElement("span"); help.className = "help";
      help.textContent = f.help + (f.lo !== null || f.hi !== null ? ` (${f.lo ?? ""} to ${f.hi ?? ""})` : "") + (f.combine.length ? ` (${f.combine.join(", ")}, multiplied with *)` : "");
      label.appendChild(help);
      fieldset.appendChild(label);
    }
    $("save").addEventListener("click", async () => {
      const changed = {};
      for (const input of form.querySelectorAll("input, select")) {
        const value = input.type === "checkbox" ? String(input.checked) : input.value;
        if (value !== input.dataset.initial) changed[input.name] = value;
      }
      text($("options-error"), ""); text($("saved"), "");
      try {
        const result = await api(base + "/options", { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify(changed) });
        if (result.ok) {
          text($("saved"), `saved (${Object.keys(changed).length} changed)`);
          for (const input of form.querySelectorAll("input, select")) input.dataset.initial = input.type === "checkbox" ? String(input.checked) : input.value;
        } else text($("options-error"), result.error);
      } catch (error) { text($("options-error"), error.message); }
    });
  }

  return { index, workspace, options, api, post, withToken, $, text, token };
})();
