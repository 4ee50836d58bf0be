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
      // The value the scope's own layer resolves to: the whole video's, then the track's, then (for
      // a range) the range's own. Other ranges may still override it on their frames (the table).
      const sc = scope();
      let value = fields[key].value;
      if (key in session.all) value = session.all[key];
      if (sc.kind === "all") return value;
      if (sc.track !== null && sc.track !== undefined) {
        const own = session.tracks[String(sc.track)] || {};
        if (key in own) value = own[key];
      }
      const mine = sc.kind === "range" ? layer(sc, false) : {};
      return key in mine ? mine[key] : value;
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
      const whole = scope().kind === "all";
      for (const f of Object.values(fields)) {
        f.label.parentElement.hidden = !whole && !info.per_face.includes(f.name);
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
      if (!Number.isFinite(Number(index))) { $("frame-no").value = String(frame); return; }
      frame = clamp(Math.round(Number(index)), 0, info.frames - 1);
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


  // ---------------------------------------------------------------- faceset browser
  const PAGE = 200;

  function faces(name) {
    const base = "/api/w/" + encodeURIComponent(name);
    const grid = $("grid");
    let names = [], total = 0, loading = false, generation = 0, anchor = -1, methodsShown = false;
    const selected = new Set();
    const side = () => $("side").value, shelf = () => $("shelf").checked;
    const SHEET = 200, COLUMNS = 20, PX = 96;  // one JPEG per 200 thumbnails, 20 a row (facesets.py)
    let shownCount = 0;

    function showSelection() {
      for (const div of grid.children) div.classList.toggle("selected", selected.has(div.dataset.name));
      text($("selected-count"), selected.size ? `${selected.size} selected` : "none selected");
      $("reject").hidden = shelf(); $("restore").hidden = !shelf();
    }

    function cell(n, k) {
      const div = document.createElement("div");
      div.className = "face"; div.title = n; div.dataset.name = n; div.dataset.index = String(k);
      return div;
    }

    function sheets(cells, start, query, version, mine) {
      // The page's thumbnails come as sheets: one request (and one decode) per 200 faces.
      for (let first = 0; first < cells.length; first += SHEET) {
        const part = cells.slice(first, first + SHEET);
        const url = withToken(`${base}/faces/${side()}/sheet?${query}&offset=${start + first}&limit=${part.length}&version=${version}`);
        const sheet = new Image();
        sheet.onload = () => {
          if (mine !== generation) return;
          part.forEach((div, i) => {
            div.style.backgroundImage = `url("${url}")`;
            div.style.backgroundPosition = `-${(i % COLUMNS) * PX}px -${Math.floor(i / COLUMNS) * PX}px`;
          });
          shownCount += part.length; grid.dataset.shown = String(shownCount);
        };
        sheet.onerror = () => { if (mine === generation) text($("faces-error"), "the thumbnails did not load (the faceset changed?): change the view to reload"); };
        sheet.src = url;
      }
    }

    async function more() {
      if (loading || (names.length >= total && names.length)) return;
      loading = true;
      const mine = generation;
      try {
        const query = `by=${encodeURIComponent($("by").value || "name")}&reverse=${$("reverse").checked}&shelf=${shelf()}`;
        const page = await api(`${base}/faces/${side()}?${query}&offset=${names.length}&limit=${PAGE}`);
        if (mine !== generation) return;
        if (!methodsShown) {
          methodsShown = true;
          $("by").replaceChildren(...page.methods.map((m) => { const o = document.createElement("option"); o.value = o.textContent = m; return o; }));
        }
        total = page.total;
        const start = names.length;
        names = names.concat(page.names);
        const cells = page.names.map((n, k) => cell(n, start + k));
        grid.append(...cells);
        sheets(cells, start, query, page.version || "", mine);
        const aside = Object.entries(page.rejected).map(([r, c]) => `${r} ${c}`).join(", ");
        text($("count"), `${total} faces${shelf() ? " set aside" : ""}${aside && !shelf() ? "; set aside: " + aside : ""}`);
        text($("sentinel"), names.length < total ? "loading more ..." : "");
        grid.dataset.loaded = String(names.length);
        showSelection();
      } catch (error) { text($("faces-error"), error.message); }
      finally { loading = false; }
      // A reload while this page loaded found `loading` set and left the new listing to us.
      if (mine !== generation || (names.length < total && $("sentinel").getBoundingClientRect().top < innerHeight + 400)) more();
    }

    function reload() {
      generation++; names = []; total = 0; anchor = -1; selected.clear(); shownCount = 0;
      grid.replaceChildren(); grid.dataset.loaded = "0"; grid.dataset.shown = "0";
      text($("faces-error"), "");
      more();
    }
    new IntersectionObserver((entries) => { if (entries[0].isIntersecting) more(); }, { rootMargin: "400px" }).observe($("sentinel"));
    for (const id of ["side", "by", "reverse", "shelf"]) $(id).addEventListener("change", reload);

    // Selection: click, ctrl-click, shift-click, and a box dragged over the grid.
    let press = null;
    grid.parentElement.addEventListener("mousedown", (event) => {
      if (event.button !== 0) return;
      const rect = grid.parentElement.getBoundingClientRect();
      press = { x: event.clientX - rect.left, y: event.clientY - rect.top, event, moved: false };
    });
    addEventListener("mousemove", (event) => {
      if (!press) return;
      const rect = grid.parentElement.getBoundingClientRect();
      const x = event.clientX - rect.left, y = event.clientY - rect.top;
      if (!press.moved && Math.hypot(x - press.x, y - press.y) < 6) return;
      press.moved = true;
      const box = $("box");
      box.hidden = false;
      Object.assign(box.style, { left: Math.min(x, press.x) + "px", top: Math.min(y, press.y) + "px",
        width: Math.abs(x - press.x) + "px", height: Math.abs(y - press.y) + "px" });
    });
    addEventListener("mouseup", (event) => {
      if (!press) return;
      const start = press; press = null;
      const box = $("box");
      if (start.moved) {
        const area = box.getBoundingClientRect();
        box.hidden = true;
        if (!(start.event.shiftKey || start.event.ctrlKey || start.event.metaKey)) selected.clear();
        for (const img of grid.children) {
          const r = img.getBoundingClientRect();
          if (r.right > area.left && r.left < area.right && r.bottom > area.top && r.top < area.bottom) selected.add(img.dataset.name);
        }
        showSelection();
        return;
      }
      const img = event.target.closest && event.target.closest("#grid .face");
      if (!img) return;
      const k = Number(img.dataset.index);
      if (event.shiftKey && anchor >= 0) {
        if (!(event.ctrlKey || event.metaKey)) selected.clear();
        for (let i = Math.min(anchor, k); i <= Math.max(anchor, k); i++) selected.add(names[i]);
      } else if (event.ctrlKey || event.metaKey) {
        if (selected.has(img.dataset.name)) selected.delete(img.dataset.name); else selected.add(img.dataset.name);
        anchor = k;
      } else { selected.clear(); selected.add(img.dataset.name); anchor = k; }
      showSelection();
    });
    grid.addEventListener("dblclick", (event) => { const div = event.target.closest(".face"); if (div) open(div.dataset.name); });
    document.addEventListener("keydown", (event) => {
      if (typing(event)) return;
      if (event.key === "Delete" && selected.size && !shelf()) { event.preventDefault(); move("reject"); }
      if ((event.ctrlKey || event.metaKey) && event.key === "a") { event.preventDefault(); names.forEach((n) => selected.add(n)); showSelection(); }
    });

    async function move(action) {
      const chosen = [...selected];
      if (!chosen.length) return;
      text($("faces-error"), "");
      try {
        const result = await post(`${base}/faces/${side()}/${action}`, { names: chosen });
        text($("count"), action === "reject" ? `${result.moved} set aside in _rejected/manual/` : `${result.restored} restored` + (result.left.length ? `, ${result.left.length} left (name taken)` : ""));
      } catch (error) { text($("faces-error"), error.message); }
      reload();
    }
    $("reject").addEventListener("click", () => move("reject"));
    $("restore").addEventListener("click", () => move("restore"));

    // One face: picture, landmarks, mask and metadata.
    let opened = null;
    async function open(n) {
      const [shelfName, file] = shelf() ? n.split("/") : ["", n];
      const query = shelfName ? `?shelf=${shelfName}` : "";
      try {
        const face = await api(`${base}/faces/${side()}/face/${file}${query}`);
        const image = await loadImage(withToken(`${base}/faces/${side()}/image/${file}${query}`));
        let mask = null;
        if (face.has_mask) mask = await loadImage(withToken(`${base}/faces/${side()}/image/${file}?kind=mask${shelfName ? "&shelf=" + shelfName : ""}`));
        opened = { face, image, mask };
        $("detail").hidden = false;
        text($("detail-name"), n);
        $("edit-mask").href = withToken(`/w/${encodeURIComponent(name)}/masks?side=${side()}&face=${encodeURIComponent(file)}`);
        $("edit-mask").hidden = !!shelfName;
        const rows = Object.entries(face).filter(([k]) => !["landmarks", "labels", "name"].includes(k)).map(([k, v]) => {
          const row = document.createElement("tr"); row.innerHTML = "<td></td><td></td>";
          row.cells[0].textContent = k; row.cells[1].textContent = typeof v === "object" ? JSON.stringify(v) : String(v); return row;
        });
        const labelled = face.labels.include.length + face.labels.exclude.length;
        const extra = document.createElement("tr"); extra.innerHTML = "<td>labels</td><td></td>";
        extra.cells[1].textContent = `${labelled} polygon(s)`; rows.push(extra);
        $("meta").replaceChildren(...rows);
        paint();
      } catch (error) { text($("faces-error"), error.message); }
    }

    function paint() {
      if (!opened) return;
      const canvas = $("face-canvas"), ctx = canvas.getContext("2d");
      ctx.drawImage(opened.image, 0, 0, canvas.width, canvas.height);
      if ($("show-mask").checked && opened.mask) tint(ctx, opened.mask, canvas.width);
      if ($("show-landmarks").checked) {
        const k = canvas.width / opened.face.size_px;
        ctx.fillStyle = "#0f0";
        for (const [x, y] of opened.face.landmarks) ctx.fillRect((x + 0.5) * k - 1, (y + 0.5) * k - 1, 2, 2);
      }
      canvas.dataset.face = opened.face.name;
    }
    $("show-landmarks").addEventListener("change", paint);
    $("show-mask").addEventListener("change", paint);

    coverageView(base, (n) => withToken(`${base}/faces/dst/thumb/${n}`));
    reload();
  }

  function loadImage(url) {
    return new Promise((resolve, reject) => {
      const img = new Image();
      img.onload = () => resolve(img); img.onerror = () => reject(new Error("the picture did not load"));
      img.src = url;
    });
  }

  function tint(ctx, mask, size) {
    // Red over what the mask hides: the face is what stays clear.
    const off = document.createElement("canvas"); off.width = off.height = size;
    const o = off.getContext("2d"); o.drawImage(mask, 0, 0, size, size);
    const data = o.getImageData(0, 0, size, size);
    for (let i = 0; i < data.data.length; i += 4) {
      const hidden = 255 - data.data[i];
      data.data[i] = 255; data.data[i + 1] = 0; data.data[i + 2] = 0; data.data[i + 3] = hidden * 0.5;
    }
    o.putImageData(data, 0, 0);
    ctx.drawImage(off, 0, 0);
  }

  async function coverageView(base, dstThumb) {
    let data;
    try { data = await api(base + "/coverage"); } catch (error) { text($("coverage-error"), error.message); return; }
    const plots = [
      { canvas: $("coverage-pose"), x: "yaw", y: "pitch", measures: ["pose"], label: "yaw (deg) x pitch (deg)" },
      { canvas: $("coverage-expr"), x: "mouth", y: "eyes", measures: ["mouth_open", "eye_open", "smile", "brow_raise"], label: "mouth opening x eye closing (from each faceset's rest)" },
    ];
    const lacking = (measures) => new Set(measures.flatMap((m) => data.beyond[m] || []));
    for (const plot of plots) {
      const { canvas } = plot, ctx = canvas.getContext("2d"), w = canvas.width, h = canvas.height, pad = 30;
      const xs = data.src[plot.x].concat(data.dst[plot.x]), ys = data.src[plot.y].concat(data.dst[plot.y]);
      const x0 = Math.min(...xs), x1 = Math.max(...xs) + 1e-6, y0 = Math.min(...ys), y1 = Math.max(...ys) + 1e-6;
      plot.X = (v) => pad + (w - pad - 8) * (v - x0) / (x1 - x0);
      plot.Y = (v) => h - pad - (h - pad - 8) * (v - y0) / (y1 - y0);
      plot.lack = lacking(plot.measures);
      ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, w, h);
      ctx.strokeStyle = "#bbb"; ctx.strokeRect(pad, 8, w - pad - 8, h - pad - 8);
      const dot = (x, y, colour, r) => { ctx.fillStyle = colour; ctx.fillRect(plot.X(x) - r, plot.Y(y) - r, 2 * r, 2 * r); };
      data.dst[plot.x].forEach((v, i) => { if (!plot.lack.has(i)) dot(v, data.dst[plot.y][i], "#aaa", 2); });
      data.src[plot.x].forEach((v, i) => dot(v, data.src[plot.y][i], "#1f77b4", 2));
      data.dst[plot.x].forEach((v, i) => { if (plot.lack.has(i)) dot(v, data.dst[plot.y][i], "#ff7f0e", 3); });
      ctx.fillStyle = "#333"; ctx.fillText(plot.label, pad + 60, h - 10);
      const tick = (v) => String(Math.round(v * 100) / 100);
      ctx.fillText(tick(x0), pad, h - 18); ctx.fillText(tick(x1), w - 40, h - 18);
      ctx.fillText(tick(y0), 2, h - pad); ctx.fillText(tick(y1), 2, 16);
      canvas.dataset.lacking = String(plot.lack.size);
      canvas.addEventListener("click", (event) => {
        const r = canvas.getBoundingClientRect();
        const cx = (event.clientX - r.left) * w / r.width, cy = (event.clientY - r.top) * h / r.height;
        const near = [...plot.lack].filter((i) => Math.hypot(plot.X(data.dst[plot.x][i]) - cx, plot.Y(data.dst[plot.y][i]) - cy) < 14);
        if (near.length) show(`dst faces src lacks near (${plot.x}, ${plot.y})`, near);
      });
    }
    const gaps = $("gaps");
    gaps.replaceChildren(...data.gaps.map((gap) => {
      const li = document.createElement("li"); const a = document.createElement("a"); a.href = "#";
      a.textContent = `${gap.sentence} (dst frames ${gap.frame_ranges})`; a.dataset.measure = gap.measure;
      a.addEventListener("click", (event) => { event.preventDefault(); show(gap.sentence, data.beyond[gap.measure] || []); });
      li.appendChild(a); return li;
    }));
    if (!data.gaps.length) gaps.innerHTML = "<li>src covers every pose and expression of dst</li>";

    function show(title, indices) {
      const frames = [...new Set(indices.map((i) => data.dst.frames[i]))].sort((a, b) => a - b);
      text($("gap-title"), `${title}: dst frames ${frames.join(", ")}`);
      $("gap-frames").dataset.frames = frames.join(",");
      $("gap-frames").replaceChildren(...indices.slice(0, 60).map((i) => {
        const img = document.createElement("img"); img.src = dstThumb(data.dst.names[i]); img.title = `dst frame ${data.dst.frames[i]}`; return img;
      }));
    }
  }

  // ---------------------------------------------------------------- mask editor
  function masks(name) {
    const base = "/api/w/" + encodeURIComponent(name);
    const canvas = $("editor"), ctx = canvas.getContext("2d");
    const params = new URLSearchParams(location.search);
    let names = [], at = 0, face = null, image = null, trained = null;
    let polygons = [], open = null, history = [], future = [], dirty = false, drag = null;
    if (params.get("side") === "dst") $("side").value = "dst";
    const side = () => $("side").value;
    const kind = () => document.querySelector("input[name=kind]:checked").value;
    const scale = () => canvas.width / face.size_px;

    function snapshot() { history.push(JSON.stringify({ polygons, open })); future = []; dirty = true; }
    function restoreFrom(state) { const s = JSON.parse(state); polygons = s.polygons; open = s.open; dirty = true; draw(); }

    function draw() {
      ctx.clearRect(0, 0, canvas.width, canvas.height);
      if (!face) return;
      ctx.drawImage(image, 0, 0, canvas.width, canvas.height);
      if ($("show-trained").checked && trained) tint(ctx, trained, canvas.width);
      const k = scale();
      const path = (points) => { ctx.beginPath(); points.forEach(([x, y], i) => (i ? ctx.lineTo : ctx.moveTo).call(ctx, (x + 0.5) * k, (y + 0.5) * k)); };
      for (const poly of polygons) {
        path(poly.points); ctx.closePath();
        ctx.fillStyle = poly.kind === "include" ? "rgba(44,160,44,0.25)" : "rgba(214,39,40,0.35)"; ctx.fill();
        ctx.strokeStyle = poly.kind === "include" ? "#2ca02c" : "#d62728"; ctx.lineWidth = 2; ctx.stroke();
      }
      if (open) {
        path(open.points); ctx.strokeStyle = open.kind === "include" ? "#2ca02c" : "#d62728"; ctx.setLineDash([6, 4]); ctx.stroke(); ctx.setLineDash([]);
      }
      for (const poly of polygons.concat(open ? [open] : [])) {
        for (const [x, y] of poly.points) { ctx.fillStyle = "#fff"; ctx.fillRect((x + 0.5) * k - 4, (y + 0.5) * k - 4, 8, 8); }
      }
      const counts = { include: 0, exclude: 0 };
      polygons.forEach((p) => counts[p.kind]++);
      text($("polygons"), `${counts.include} include, ${counts.exclude} exclude polygon(s)${open ? "; one open" : ""}${dirty ? "; not saved" : ""}`);
      canvas.dataset.polygons = String(polygons.length);
    }

    function point(event) {
      const r = canvas.getBoundingClientRect(), k = scale();
      return [((event.clientX - r.left) * canvas.width / r.width) / k - 0.5, ((event.clientY - r.top) * canvas.height / r.height) / k - 0.5];
    }
    function hit(p) {
      const reach = 7 / scale();
      for (const poly of (open ? [open] : []).concat(polygons.slice().reverse())) {
        const i = poly.points.findIndex(([x, y]) => Math.hypot(x - p[0], y - p[1]) < reach);
        if (i >= 0) return { poly, i };
      }
      return null;
    }

    function closeOpen() {
      if (!open) return;
      snapshot();
      if (open.points.length >= 3) polygons.push(open);
      open = null; draw();
    }

    canvas.addEventListener("mousedown", (event) => {
      if (!face || event.button !== 0) return;
      const p = point(event), found = hit(p);
      if (found && open && found.poly === open && found.i === 0 && open.points.length >= 3) { closeOpen(); return; }
      if (found) { snapshot(); drag = found; return; }
      snapshot();
      if (!open) open = { kind: kind(), points: [] };
      open.points.push(p.map((v) => Math.round(v * 100) / 100));
      draw();
    });
    canvas.addEventListener("mousemove", (event) => {
      if (!drag) return;
      drag.poly.points[drag.i] = point(event).map((v) => Math.round(v * 100) / 100); draw();
    });
    addEventListener("mouseup", () => { drag = null; });

    function undo() { if (history.length) { future.push(JSON.stringify({ polygons, open })); const s = history.pop(); const f = future; restoreFrom(s); future = f; } }
    function redo() { if (future.length) { history.push(JSON.stringify({ polygons, open })); const s = future.pop(); const f = future; restoreFrom(s); future = f; } }

    async function save() {
      if (!face) return;
      closeOpen();
      const body = { include: [], exclude: [] };
      for (const poly of polygons) body[poly.kind].push(poly.points);
      try {
        await put(`${base}/faces/${side()}/labels/${face.name}`, body);
        dirty = false; text($("saved"), `saved in ${face.name}`); text($("mask-error"), ""); draw();
      } catch (error) { text($("mask-error"), error.message); throw error; }
    }

    async function show(k) {
      if (dirty) { try { await save(); } catch { return; } }
      if (!names.length) { text($("mask-error"), "this faceset holds no faces"); return; }
      at = clamp(k, 0, names.length - 1);
      const file = names[at];
      try {
        face = await api(`${base}/faces/${side()}/face/${file}`);
        image = await loadImage(withToken(`${base}/faces/${side()}/image/${file}`));
        trained = null;
        if ($("show-trained").checked) trained = await loadImage(withToken(`${base}/faces/${side()}/image/${file}?kind=trained`));
      } catch (error) { text($("mask-error"), error.message); return; }
      polygons = [...face.labels.include.map((points) => ({ kind: "include", points })), ...face.labels.exclude.map((points) => ({ kind: "exclude", points }))];
      open = null; history = []; future = []; dirty = false;
      $("face-name").value = file; text($("position"), `${at + 1} of ${names.length}, frame ${face.frame_index}, track ${face.track_id}`);
      text($("saved"), ""); canvas.dataset.face = file;
      draw();
    }

    async function load(first) {
      names = [];
      for (let total = 1; names.length < total;) {
        const page = await api(`${base}/faces/${side()}?by=name&offset=${names.length}&limit=1000`);
        names = names.concat(page.names); total = page.total;
        if (!page.names.length) break;
      }
      const k = first ? names.indexOf(first) : 0;
      await show(k >= 0 ? k : 0);
    }

    $("prev").addEventListener("click", () => show(at - 1));
    $("next").addEventListener("click", () => show(at + 1));
    $("face-name").addEventListener("change", () => { const k = names.indexOf($("face-name").value); if (k >= 0) show(k); });
    $("side").addEventListener("change", () => { dirty = false; load(null); });
    $("undo").addEventListener("click", undo); $("redo").addEventListener("click", redo);
    $("close-poly").addEventListener("click", closeOpen);
    $("delete-poly").addEventListener("click", () => { if (polygons.length) { snapshot(); polygons.pop(); draw(); } });
    $("save").addEventListener("click", () => save().catch(() => {}));
    $("show-trained").addEventListener("change", async () => {
      if ($("show-trained").checked && face && !trained) {
        try { trained = await loadImage(withToken(`${base}/faces/${side()}/image/${face.name}?kind=trained`)); } catch (error) { text($("mask-error"), error.message); }
      }
      draw();
    });
    $("copy").addEventListener("click", async () => {
      try {
        if (dirty) await save();
        const result = await post(`${base}/faces/${side()}/labels/${face.name}/copy`, { count: Number($("copy-count").value) });
        text($("saved"), `copied to ${result.labelled.length} face(s): ${result.labelled.slice(0, 5).join(", ")}${result.labelled.length > 5 ? " ..." : ""}`);
      } catch (error) { text($("mask-error"), error.message); }
    });
    document.querySelectorAll("button[data-job]").forEach((b) => b.addEventListener("click", async () => {
      try {
        await post(base + "/jobs", { kind: b.dataset.job, options: { time: $("mask-time").value } });
        text($("saved"), `${b.textContent} started (see the workspace page)`);
      } catch (error) { text($("mask-error"), error.message); }
    }));
    document.addEventListener("keydown", (event) => {
      if (typing(event) && event.target.type !== "radio" && event.target.type !== "checkbox") return;
      const key = event.key.toLowerCase(), ctrl = event.ctrlKey || event.metaKey;
      if (ctrl && key === "z" && !event.shiftKey) undo();
      else if (ctrl && (key === "y" || (key === "z" && event.shiftKey))) redo();
      else if (ctrl && key === "s") save().catch(() => {});
      else if (ctrl) return;
      else if (key === "enter") closeOpen();
      else if (key === "escape") { if (open) { snapshot(); open = null; draw(); } }
      else if (key === "backspace") { if (open && open.points.length) { snapshot(); open.points.pop(); if (!open.points.length) open = null; draw(); } }
      else if (key === "delete") { if (polygons.length) { snapshot(); polygons.pop(); draw(); } }
      else if (key === "i" || key === "e") { document.querySelector(`input[name=kind][value=${key === "i" ? "include" : "exclude"}]`).checked = true; if (open) open.kind = kind(); draw(); }
      else if (key === "s") save().catch(() => {});
      else if (key === "n" || key === "pagedown") show(at + 1);
      else if (key === "p" || key === "pageup") show(at - 1);
      else if (key === "t") { $("show-trained").checked = !$("show-trained").checked; $("show-trained").dispatchEvent(new Event("change")); }
      else return;
      event.preventDefault();
    });
    load(params.get("face")).catch((error) => text($("mask-error"), error.message));
  }

  Object.assign(studio, { merger, faces, masks });
})();
