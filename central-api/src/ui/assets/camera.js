// The camera's set-up drawn on its picture: the stop line, lanes, no-stopping zones, the speed
// lines or the four calibration points, the signal head's lamps, placed by clicking on the
// picture from the camera and moved by dragging, each change undone by «Undo» or Ctrl+Z. What
// is drawn is written into the geometry field of the form (the JSON the server validates and
// saves; the calibration as its four points, from which the server makes the homography);
// without this script that field is edited by hand.
"use strict";
(function () {
  const editor = document.getElementById("geometry-editor");
  const svg = document.getElementById("geometry-view");
  const form = document.getElementById("camera-form");
  if (!editor || !svg || !form) return;
  const field = form.querySelector("textarea[name=geometry]");
  const hint = document.getElementById("editor-hint");
  const NS = "http://www.w3.org/2000/svg";
  const width = Number(editor.dataset.width);
  const height = Number(editor.dataset.height);
  // Handles and strokes keep their size on screen whatever the picture's resolution.
  const unit = Math.max(width, height) / 1000;

  let geom;
  try {
    geom = JSON.parse(field.value.trim() || "{}");
  } catch (e) {
    hint.textContent = editor.dataset.badJson;
    return;
  }
  editor.hidden = false;
  const shapes = document.getElementById("geometry-shapes");
  if (shapes) shapes.style.display = "none";
  const layer = document.createElementNS(NS, "g");
  layer.id = "editor-layer";
  svg.appendChild(layer);

  let tool = null; // the tool in use: its name, the points clicked so far, its phase
  let selected = null; // "stop_line", "lanes.2", "no_stopping.0", "speed", "signal_head"
  let calib = null; // the calibration's four points on the picture, P1–P4
  const history = []; // the geometry field as it was before each change, for «Undo»
  let last = field.value;

  const round = (p) => [Math.round(p[0]), Math.round(p[1])];
  const at = (e) => {
    const pt = svg.createSVGPoint();
    pt.x = e.clientX;
    pt.y = e.clientY;
    const p = pt.matrixTransform(svg.getScreenCTM().inverse());
    return round([Math.min(Math.max(p.x, 0), width), Math.min(Math.max(p.y, 0), height)]);
  };
  const value = (name) => editor.querySelector(`[name=${name}]`);
  const number = (name) => {
    const text = String(value(name).value).trim();
    return text === "" ? NaN : Number(text.replace(",", "."));
  };
  const roadPoints = () => [1, 2, 3, 4].map((i) => [number(`road_x${i}`), number(`road_y${i}`)]);
  // The calibration saved: its points drawn, their places on the road in the fields.
  const loadCalibration = () => {
    const c = geom.calibration;
    calib = c && Array.isArray(c.image) ? c.image.map((p) => p.slice()) : null;
    if (c && Array.isArray(c.road)) {
      c.road.forEach((p, i) => {
        value(`road_x${i + 1}`).value = p[0];
        value(`road_y${i + 1}`).value = p[1];
      });
    }
  };

  const save = () => {
    for (const k of ["stop_line", "speed", "signal_head", "calibration"]) if (geom[k] == null) delete geom[k];
    for (const k of ["lanes", "no_stopping"]) if (geom[k] && !geom[k].length) delete geom[k];
    const next = JSON.stringify(geom, null, 2);
    if (next !== last) {
      history.push(last);
      last = next;
    }
    field.value = next;
    draw();
  };

  const el = (name, attrs, parent) => {
    const e = document.createElementNS(NS, name);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    (parent || layer).appendChild(e);
    return e;
  };
  const pts = (poly) => poly.map((p) => p.join(",")).join(" ");
  const handle = (p, set) => {
    const h = el("circle", { cx: p[0], cy: p[1], r: 7 * unit, class: "handle" });
    h.addEventListener("pointerdown", (e) => {
      e.stopPropagation();
      e.preventDefault();
      h.setPointerCapture(e.pointerId);
      const move = (m) => {
        const q = at(m);
        set(q);
        h.setAttribute("cx", q[0]);
        h.setAttribute("cy", q[1]);
      };
      const up = () => {
        h.removeEventListener("pointermove", move);
        h.removeEventListener("pointerup", up);
        save();
      };
      h.addEventListener("pointermove", move);
      h.addEventListener("pointerup", up);
    });
  };
  const selectable = (shape, ref) => {
    shape.addEventListener("click", (e) => {
      if (tool) return;
      e.stopPropagation();
      selected = selected === ref ? null : ref;
      draw();
    });
    if (selected === ref) shape.classList.add("selected");
  };
  const line = (l, colour, ref) => {
    const s = el("line", { x1: l.a[0], y1: l.a[1], x2: l.b[0], y2: l.b[1], stroke: colour, "stroke-width": 4 * unit });
    selectable(s, ref);
    el("circle", { cx: l.before[0], cy: l.before[1], r: 5 * unit, fill: colour });
    for (const k of ["a", "b", "before"]) handle(l[k], (q) => (l[k] = q));
  };
  const polygon = (poly, fill, stroke, ref, dashed) => {
    const s = el("polygon", {
      points: pts(poly), fill, "fill-opacity": 0.25, stroke, "stroke-width": 3 * unit,
      "stroke-dasharray": dashed ? `${12 * unit} ${8 * unit}` : "none",
    });
    selectable(s, ref);
    poly.forEach((p, i) => handle(p, (q) => (poly[i] = q)));
  };

  function draw() {
    layer.replaceChildren();
    (geom.lanes || []).forEach((l, i) => {
      polygon(l.polygon, "#2f6fdb", "#6fa0ff", `lanes.${i}`);
      const c = l.polygon.reduce((s, p) => [s[0] + p[0] / l.polygon.length, s[1] + p[1] / l.polygon.length], [0, 0]);
      const d = l.direction;
      const n = Math.hypot(d[0], d[1]) || 1;
      const len = 60 * unit;
      el("line", { x1: c[0], y1: c[1], x2: c[0] + (d[0] / n) * len, y2: c[1] + (d[1] / n) * len, stroke: "#cfe0ff", "stroke-width": 4 * unit, "marker-end": "url(#arrow)" });
      const t = el("text", { x: c[0] + 8 * unit, y: c[1] - 8 * unit, fill: "#cfe0ff", "font-size": 24 * unit });
      t.textContent = l.name + (l.allowed && l.allowed.length ? ` (${l.allowed.join(", ")})` : "");
    });
    (geom.no_stopping || []).forEach((z, i) => {
      polygon(z.polygon, "#e8a200", "#ffc94d", `no_stopping.${i}`, true);
      const option = z.case && editor.querySelector(`[name=zone_case] option[value=${z.case}]`);
      if (option) {
        const t = el("text", { x: z.polygon[0][0] + 8 * unit, y: z.polygon[0][1] - 8 * unit, fill: "#ffc94d", "font-size": 22 * unit });
        t.textContent = option.textContent;
      }
    });
    if (geom.stop_line) line(geom.stop_line, "#ff4040", "stop_line");
    if (geom.speed && geom.speed.lines) {
      line(geom.speed.lines.entry, "#ffe14d", "speed");
      line(geom.speed.lines.exit, "#ffe14d", "speed");
    }
    if (geom.signal_head) {
      const h = geom.signal_head;
      for (const [k, colour] of [["red", "#ff4040"], ["amber", "#ffb000"], ["green", "#30d060"]]) {
        const c = el("circle", { cx: h[k][0], cy: h[k][1], r: Math.max(h.radius_px, 4), fill: "none", stroke: colour, "stroke-width": 3 * unit });
        selectable(c, "signal_head");
        handle(h[k], (q) => (h[k] = q));
      }
    }
    if (calib) calib.forEach((p, i) => {
      const c = el("circle", { cx: p[0], cy: p[1], r: 9 * unit, fill: "none", stroke: "#ff7ad9", "stroke-width": 3 * unit });
      selectable(c, "calibration");
      const t = el("text", { x: p[0] + 10 * unit, y: p[1] - 10 * unit, fill: "#ff7ad9", "font-size": 24 * unit });
      t.textContent = `P${i + 1}`;
      handle(p, (q) => {
        calib[i] = q;
        syncCalibration();
      });
    });
    if (tool) tool.points.forEach((p) => el("circle", { cx: p[0], cy: p[1], r: 6 * unit, fill: "#ffffff" }));
    editor.querySelector("[data-action=delete]").disabled = !selected;
    editor.querySelector("[data-action=undo]").disabled = !history.length;
  }

  // The tools: each takes clicks on the picture until its shape is whole.
  const tools = {
    stop: { clicks: 3, done: (p) => (geom.stop_line = { a: p[0], b: p[1], before: p[2] }) },
    signal: {
      clicks: 3,
      done: (p) => {
        const gap = (Math.hypot(p[1][0] - p[0][0], p[1][1] - p[0][1]) + Math.hypot(p[2][0] - p[1][0], p[2][1] - p[1][1])) / 2;
        geom.signal_head = { red: p[0], amber: p[1], green: p[2], radius_px: Math.max(3, Math.round(gap * 0.4)) };
      },
    },
    lines: {
      // The entry line's two ends, then the exit line's: traffic comes from the entry's far side.
      clicks: 4,
      done: (p) => {
        const mid = (a, b) => [(a[0] + b[0]) / 2, (a[1] + b[1]) / 2];
        const me = mid(p[0], p[1]);
        const mx = mid(p[2], p[3]);
        // Two lines replace a calibration.
        calib = null;
        geom.calibration = null;
        geom.speed = {
          lines: {
            entry: { a: p[0], b: p[1], before: round([2 * me[0] - mx[0], 2 * me[1] - mx[1]]) },
            exit: { a: p[2], b: p[3], before: round(me) },
            distance_m: number("distance_m"),
          },
        };
      },
    },
    calibrate: {
      clicks: 4,
      done: (p) => {
        calib = p;
        writeCalibration();
      },
    },
    lane: {
      polygon: true,
      // Then two clicks along the way traffic may go.
      then: 2,
      done: (poly, dir) => {
        const allowed = Array.from(editor.querySelectorAll("[name=allowed]:checked")).map((c) => c.value);
        const lanes = (geom.lanes = geom.lanes || []);
        const name = value("lane_name").value.trim() || `${editor.dataset.laneWord} ${lanes.length + 1}`;
        lanes.push({ name, polygon: poly, direction: [dir[1][0] - dir[0][0], dir[1][1] - dir[0][1]], allowed });
      },
    },
    zone: {
      polygon: true,
      done: (poly) => {
        const zones = (geom.no_stopping = geom.no_stopping || []);
        zones.push({ polygon: poly, max_dwell_s: number("max_dwell_s"), case: value("zone_case").value });
      },
    },
  };

  // The calibration into the geometry once its four points and their places on the road are
  // all given; the homography saved before goes, the server making it again from the points.
  const syncCalibration = () => {
    const road = roadPoints();
    if (!calib || !road.every((p) => p.every(Number.isFinite))) return false;
    geom.calibration = { image: calib.map((p) => p.slice()), road };
    if (geom.speed && geom.speed.homography) geom.speed = null;
    return true;
  };
  const writeCalibration = () => (syncCalibration() ? save() : draw());
  editor.querySelectorAll("[name^=road_]").forEach((i) => i.addEventListener("change", writeCalibration));
  // Another camera's road points (the overview camera's, for its plate camera): their places
  // on the road filled in, to be clicked on this picture.
  const shared = value("shared_points");
  if (shared) {
    shared.addEventListener("change", () => {
      const option = shared.selectedOptions[0];
      if (!option || !option.dataset.road) return;
      JSON.parse(option.dataset.road).forEach((p, i) => {
        value(`road_x${i + 1}`).value = p[0];
        value(`road_y${i + 1}`).value = p[1];
      });
      writeCalibration();
    });
  }

  const say = (text) => (hint.textContent = text || "");
  const pick = (name) => {
    tool = name ? { name, points: [], phase: 0, poly: null } : null;
    selected = null;
    editor.querySelectorAll("[data-tool]").forEach((b) => b.setAttribute("aria-pressed", String(b.dataset.tool === name)));
    editor.querySelectorAll("[data-fields]").forEach((f) => (f.hidden = f.dataset.fields !== name));
    say(name ? editor.querySelector(`[data-tool=${name}]`).dataset.hint : "");
    draw();
  };
  const finish = () => {
    const t = tools[tool.name];
    if (t.polygon && tool.phase === 0) {
      if (tool.points.length < 3) return;
      if (t.then) {
        tool.poly = tool.points;
        tool.points = [];
        tool.phase = 1;
        say(editor.dataset.directionHint);
        draw();
        return;
      }
      t.done(tool.points);
    } else if (t.polygon) {
      t.done(tool.poly, tool.points);
    } else {
      t.done(tool.points);
    }
    pick(null);
    save();
  };

  svg.addEventListener("click", (e) => {
    if (!tool) {
      if (selected) {
        selected = null;
        draw();
      }
      return;
    }
    tool.points.push(at(e));
    const t = tools[tool.name];
    const needed = t.polygon ? (tool.phase === 1 ? t.then : Infinity) : t.clicks;
    if (tool.points.length >= needed) finish();
    else draw();
  });
  editor.querySelectorAll("[data-tool]").forEach((b) => b.addEventListener("click", () => pick(tool && tool.name === b.dataset.tool ? null : b.dataset.tool)));
  editor.querySelector("[data-action=done]").addEventListener("click", () => tool && finish());
  const remove = () => {
    if (!selected) return;
    const [kind, i] = selected.split(".");
    if (i === undefined) geom[kind] = null;
    else geom[kind].splice(Number(i), 1);
    if (kind === "calibration") {
      calib = null;
      if (geom.speed && geom.speed.homography) geom.speed = null;
    }
    selected = null;
    save();
  };
  editor.querySelector("[data-action=delete]").addEventListener("click", remove);
  const undo = () => {
    if (!history.length) return;
    last = history.pop();
    field.value = last;
    geom = JSON.parse(last.trim() || "{}");
    loadCalibration();
    pick(null);
  };
  editor.querySelector("[data-action=undo]").addEventListener("click", undo);
  document.addEventListener("keydown", (e) => {
    if (e.target.closest("input, textarea, select")) return;
    if (e.key === "Escape") pick(null);
    if (e.key === "Enter" && tool) {
      e.preventDefault();
      finish();
    }
    if ((e.key === "Delete" || e.key === "Backspace") && selected) remove();
    if ((e.ctrlKey || e.metaKey) && !e.shiftKey && e.key.toLowerCase() === "z") {
      e.preventDefault();
      undo();
    }
  });
  // Typing in the field by hand redraws what it says.
  field.addEventListener("change", () => {
    try {
      geom = JSON.parse(field.value.trim() || "{}");
      history.push(last);
      last = field.value;
      loadCalibration();
      say("");
      draw();
    } catch (err) {
      say(editor.dataset.badJson);
    }
  });
  loadCalibration();
  draw();
})();

// Checking it live: while the device's judged frames are still coming, the section is fetched
// again every second and a half and put in place; the rest of the page (a drawing not yet
// saved included) is left as it is.
(function () {
  const poll = () => {
    const live = document.getElementById("live");
    if (!live || !live.dataset.running) return;
    setTimeout(async () => {
      try {
        const r = await fetch(location.pathname + location.search, {
          credentials: "same-origin",
          cache: "no-store",
        });
        if (r.ok) {
          const page = new DOMParser().parseFromString(await r.text(), "text/html");
          const fresh = page.getElementById("live");
          if (fresh) live.replaceWith(document.importNode(fresh, true));
        }
      } catch (e) {
        // The next try.
      }
      poll();
    }, 1500);
  };
  poll();
})();

// The fixed-time plan: when red began, now (this computer's clock) or at a live frame (the
// device's clock), in Vietnam's time.
document.addEventListener("click", (e) => {
  const field = document.getElementById("plan-red-at");
  if (!field) return;
  if (e.target.id === "red-now") {
    field.value = new Date(Date.now() + 7 * 3600e3).toISOString().slice(11, 21);
  } else if (e.target.classList && e.target.classList.contains("red-at-frame")) {
    field.value = e.target.dataset.takenAt;
  } else {
    return;
  }
  field.dispatchEvent(new Event("change", { bubbles: true }));
});
