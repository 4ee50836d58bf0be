// faceweave studio, the tools: interactive merger, faceset browser, mask editor. Plain JavaScript.
"use strict";

(() => {
  const { api, post, withToken, $, text, token } = studio;
  const put = (path, body) => api(path, { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  const typing = (event) => ["INPUT", "SELECT", "TEXTAREA"].includes(event.target.tagName);
  const clamp = (v, lo, hi) => Math.min(hi, Math.max(lo, v));

  async function blob(path, body) {
    const response = await fetch(path, {
      method: "POST", credentials: "omit", body: JSON.stringify(body),
      headers: { "x-faceweave-token": token, "content-type": "application/json" },
    });
    if (!response.ok) { const b = await response.json().catch(() => ({})); throw new Error(b.error || response.statusText); }
    return { data: await response.blob(), ms: response.headers.get("x-render-ms"), faces: response.headers.get("x-faces") };
  }

  // ---------------------------------------------------------------- interactive merger
  function merger(name) {
    const base = "/api/w/" + encodeURIComponent(name);
    const STEP = { erode: 1, blur: 1, face_scale: 1, sharpen: 0.1, degrade_blur: 0.1, degrade_noise: 1, shading: 0.05,
      color_smoothing: 0.05, temporal: 0.05 };
    let info = null, session = null, frame = 0, fields = {}, renders = 0, inFlight = false, pending = false, shownUrl = null;

    function scope() {
      const value = $("scope").value;
      if (value.startsWith("track:")) return { kind: "track", track: Number(value.slice(6)) };
      if (value === "range") {
        const first = clamp(Number($("range-first").value) || 0, 0, info.frames - 1);
        const last = clamp(Number($("range-last").value) || first, first, info.frames - 1);
        const track = $("range-track").value === "" ? null : Number($("range-track").value);
        return { kind: "range", first, last, track };
      }
      return { kind: "all" };
    }

    function layer(sc, create) {
      if (sc.kind === "all") return session.all;
      if (sc.kind === "track") {
        const key = String(sc.track);
        if (!session.tracks[key] && create) session.tracks[key] = {};
        return session.tracks[key] || {};
      }
      let found = session.ranges.find((r) => r.first === sc.first && r.last === sc.last && r.track === sc.track);
      if (!found && create) { found = { first: sc.first, last: sc.last, track: sc.track, options: {} }; session.ranges.push(found); }
      return found ? found.options : {};
    }

    function effective(key) {
      // The value that applies to the scope's track on the current frame, as the merge resolves it.
      const sc = scope();
      const track = sc.track ?? info.tracks[0];
      let value = fields[key].value;
      if (key in session.all) value = session.all[key];
      if (sc.kind === "all") return value;
      const own = session.tracks[String(track)] || {};
      if (key in own) value = own[key];
      for (const r of session.ranges) {
        if (r.first <= frame && frame <= r.last && (r.track === null || r.track === track) && key in r.options) value = r.options[key];
      }
      if (sc.kind === "range" && key in layer(sc, false)) value = layer(sc, false)[key];
      return value;
    }

    function set(key, value) {
      layer(scope(), true)[key] = value;
      refresh(); draw();
    }

    function bump(key, steps) {
      const f = fields[key];
      const value = clamp(Number(effective(key)) + steps * (STEP[key.split(".")[0]] || 1), f.lo ?? -1e9, f.hi ?? 1e9);
      set(key, Math.round(value * 1000) / 1000);
    }

    function cycle(key, list) {
      const now = list.indexOf(String(effective(key)));
      set(key, list[(now + 1) % list.length]);
    }

    function buildForm() {
      const form = $("merge-options");
      for (const f of Object.values(fields)) {
        const label = document.createElement("label"); label.title = f.help;
        const name = document.createElement("span"); name.textContent = f.name + " "; label.appendChild(name);
        let input;
        if (f.choices.length) {
          input = document.createElement("select");
          for (const c of f.choices) { const o = document.createElement("option"); o.value = o.textContent = c; input.appendChild(o); }
          input.addEventListener("change", () => set(f.name, input.value));
        } else if (f.kind === "bool") {
          input = document.createElement("input"); input.type = "checkbox";
          input.addEventListener("change", () => set(f.name, input.checked));
        } else if (f.kind === "str") {
          input = document.createElement("input"); input.size = 22;
          if (f.combine.length) input.setAttribute("list", "combine-" + f.name);
          input.addEventListener("change", () => set(f.name, input.value));
          const list = document.createElement("datalist"); list.id = "combine-" + f.name;
          for (const c of f.combine) { const o = document.createElement("option"); o.value = c; list.appendChild(o); }
          label.appendChild(list);
        } else {
          input = document.createElement("input"); input.type = "range";
          input.min = f.lo; input.max = f.hi; input.step = STEP[f.name] || 1;
          input.addEventListener("input", () => set(f.name, f.kind === "int" ? Math.round(Number(input.value)) : Number(input.value)));
        }
        input.name = f.name; label.appendChild(input);
        const shown = document.createElement("span"); shown.className = "value"; label.appendChild(shown);
        form.appendChild(label);
        f.input = input; f.shown = shown; f.label = name;
      }
    }

    function refresh() {
      const own = layer(scope(), false);
      for (const f of Object.values(fields)) {
        const value = effective(f.name);
        if (f.input.type === "checkbox") f.input.checked = !!value;
        else if (document.activeElement !== f.input) f.input.value = String(value);
        text(f.shown, f.input.type === "range" ? " " + value : "");
        f.label.className = f.name in own ? "set" : "";
      }
      const body = $("ranges").tBodies[0];
      body.replaceChildren(...session.ranges.map((r, k) => {
        const row = document.createElement("tr");
        row.innerHTML = "<td></td><td></td><td></td><td><button data-act='edit'>edit</button> <button data-act='delete'>delete</button></td>";
        row.cells[0].textContent = `${r.first}-${r.last}`;
        row.cells[1].textContent = r.track === null ? "every" : String(r.track);
        row.cells[2].textContent = Object.entries(r.options).map(([a, b]) => `${a}=${b}`).join(", ");
        row.querySelector("[data-act=edit]").addEventListener("click", () => {
          $("scope").value = "range"; $("range-pick").hidden = false;
          $("range-first").value = r.first; $("range-last").value = r.last; $("range-track").value = r.track === null ? "" : String(r.track);
          refresh();
        });
        row.querySelector("[data-act=delete]").addEventListener("click", () => { session.ranges.splice(k, 1); refresh(); draw(); });
        return row;
      }));
    }

    async function draw() {
      if (inFlight) { pending = true; return; }
      inFlight = true;
      const asked = frame;
      try {
        const result = await blob(base + "/merger/render", { frame: asked, session });
        const url = URL.createObjectURL(result.data);
        const img = $("after");
        await new Promise((resolve) => { img.onload = resolve; img.onerror = resolve; img.src = url; });
        if (shownUrl) URL.revokeObjectURL(shownUrl);
        shownUrl = url;
        img.dataset.frame = String(asked); img.dataset.renders = String(++renders);
        text($("timing"), `merged in ${result.ms} ms (${result.faces} face${result.faces === "1" ? "" : "s"})`);
        text($("merger-error"), "");
      } catch (error) { text($("merger-error"), error.message); }
      finally {
        inFlight = false;
        if (pending) { pending = false; draw(); }
      }
    }

    function strip() {
      const box = $("strip");
      const items = [];
      for (let k = Math.max(0, frame - 7); k <= Math.min(info.frames - 1, frame + 7); k++) {
        const img = document.createElement("img");
        img.src = withToken(`${base}/merger/thumb/${k}`); img.title = `frame ${k}`; img.dataset.frame = String(k);
        if (k === frame) img.className = "current";
        if (withFaces.has(k)) img.classList.add("face");
        img.addEventListener("click", () => go(k));
        items.push(img);
      }
      box.replaceChildren(...items);
    }

    let withFaces = new Set();
    function go(index) {
      frame = clamp(Math.round(index), 0, info.frames - 1);
      session.frame = frame;
      $("scrub").value = String(frame); $("frame-no").value = String(frame);
      text($("frame-faces"), withFaces.has(frame) ? "" : "no dst face in this frame");
      $("before").src = withToken(`${base}/merger/dst/${frame}`);
      strip(); refresh(); draw();
    }

    document.addEventListener("keydown", (event) => {
      if (!info || typing(event) || event.ctrlKey || event.metaKey || event.altKey) return;
      const key = event.key.toLowerCase(), many = event.shiftKey;
      const blends = fields.blend ? fields.blend.choices : [];
      const moves = { arrowleft: -1, ",": -1, "<": -1, arrowright: 1, ".": 1, ">": 1 };
      const knobs = { w: ["erode", 1], s: ["erode", -1], e: ["blur", 1], d: ["blur", -1], u: ["face_scale", 1], j: ["face_scale", -1],
        y: ["sharpen", 1], h: ["sharpen", -1], o: ["degrade_blur", 1], l: ["degrade_blur", -1], i: ["degrade_noise", 1], k: ["degrade_noise", -1] };
      if (key in moves) go(frame + moves[key] * (many ? 10 : 1));
      else if (key === "home") go(0);
      else if (key === "end") go(info.frames - 1);
      else if (key in knobs && fields[knobs[key][0]]) bump(knobs[key][0], knobs[key][1] * (many ? 5 : 1));
      else if (/^[1-9]$/.test(event.key) && blends[Number(event.key) - 1]) set("blend", blends[Number(event.key) - 1]);
      else if (key === "x" && fields.mask) cycle("mask", [fields.mask.value, ...fields.mask.combine.filter((c) => c !== fields.mask.value)]);
      else if (key === "c" && fields.color) cycle("color", fields.color.choices);
      else if (key === "m" && fields.keep_mouth) set("keep_mouth", !effective("keep_mouth"));
      else return;
      event.preventDefault();
    });

    (async () => {
      try {
        info = await api(base + "/merger");
      } catch (error) { text($("merger-error"), error.message); return; }
      session = info.session;
      withFaces = new Set(info.with_faces);
      for (const f of info.fields) { f.name = f.key.split(".")[1]; fields[f.name] = f; }
      for (const t of info.tracks) {
        for (const select of [$("scope"), $("range-track")]) {
          const o = document.createElement("option");
          o.value = select === $("scope") ? "track:" + t : String(t); o.textContent = select === $("scope") ? `track ${t}` : String(t);
          select.appendChild(o);
        }
      }
      const o = document.createElement("option"); o.value = "range"; o.textContent = "a range of frames"; $("scope").appendChild(o);
      $("scope").addEventListener("change", () => {
        $("range-pick").hidden = $("scope").value !== "range";
        if ($("scope").value === "range" && $("range-first").value === "") {
          $("range-first").value = frame; $("range-last").value = Math.min(info.frames - 1, frame + 24);
        }
        refresh();
      });
      for (const id of ["range-first", "range-last", "range-track"]) $(id).addEventListener("change", refresh);
      $("keys").replaceChildren(...Object.entries(info.keys).map(([k, v]) => {
        const row = document.createElement("tr"); row.innerHTML = "<td></td><td></td>";
        row.cells[0].textContent = k; row.cells[1].textContent = v; return row;
      }));
      buildForm();
      $("scrub").max = String(info.frames - 1);
      $("scrub").addEventListener("input", () => go(Number($("scrub").value)));
      $("frame-no").addEventListener("change", () => go(Number($("frame-no").value)));
      $("wipe").addEventListener("input", () => { $("after").style.clipPath = `inset(0 ${100 - Number($("wipe").value)}% 0 0)`; });
      $("save-session").addEventListener("click", async () => {
        text($("session-saved"), "");
        try { await put(base + "/merger/session", session); text($("session-saved"), "saved in merge_session.json"); }
        catch (error) { text($("merger-error"), error.message); }
      });
      $("render-job").addEventListener("click", async () => {
        try {
          await put(base + "/merger/session", session);
          await post(base + "/jobs", { kind: "merge", options: {} });
          text($("session-saved"), "saved; the merge job runs (see the workspace page)");
        } catch (error) { text($("merger-error"), error.message); }
      });
      go(session.frame < info.frames ? session.frame : 0);
    })();
  }

  Object.assign(studio, { merger });
})();
