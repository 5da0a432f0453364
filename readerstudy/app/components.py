"""Small offline front-end pieces (``st.components.v2``: plain HTML/CSS/JS in the app page, no CDN, no iframe).

* :func:`image_viewer`: canvas viewer with zoom (wheel, +/-), pan (drag) and window/level (sliders or shift-drag);
  it prefetches the next case's image so that the next page shows it from the browser's cache.
  Window/level is the DICOM default LINEAR VOI function on 8-bit pixels (PS3.3 C.11.2.1.2.1,
  https://dicom.nema.org/medical/dicom/2022a/output/chtml/part03/sect_C.11.2.html); W=256, C=128 is the identity
  (note 4 there: centre 2^(n-1), width 2^n).
* :func:`keyboard_shortcuts`: 1/2/3 choose A better / Equal / B better for the first criterion without a choice,
  Enter submits; keys typed into text fields are left alone.
* :func:`navigate`: sends the browser to a same-origin URL (the login ticket route).

``st.components.v2`` runs the JavaScript in the app page itself ("not sandboxed", per its docstring in Streamlit
1.67), which the document-wide key handler needs; an ``components.v1.html`` iframe would only see keys typed into it.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

VIEWER_HTML = """
<div class="cxr-viewer" data-zoom="1" data-window="256" data-level="128">
  <div class="cxr-bar">
    <button type="button" data-act="out" title="Zoom out (-)">&minus;</button>
    <button type="button" data-act="in" title="Zoom in (+)">+</button>
    <button type="button" data-act="reset" title="Fit and reset window/level (0)">Reset</button>
    <label>Window <input type="range" class="cxr-w" min="1" max="512" value="256"></label>
    <label>Level <input type="range" class="cxr-l" min="0" max="255" value="128"></label>
  </div>
  <canvas class="cxr-canvas" tabindex="0" aria-label="Case image: wheel or +/- to zoom, drag to pan,
    shift-drag or the sliders for window/level"></canvas>
  <div class="cxr-hint">Wheel: zoom &middot; drag: pan &middot; shift-drag: window/level</div>
</div>
"""

VIEWER_CSS = """
.cxr-viewer { display: flex; flex-direction: column; gap: 4px; font: 12px sans-serif; color: inherit; }
.cxr-bar { display: flex; flex-wrap: wrap; gap: 6px; align-items: center; }
.cxr-bar button { min-width: 28px; padding: 1px 6px; cursor: pointer; }
.cxr-bar input[type=range] { width: 80px; vertical-align: middle; }
.cxr-canvas { width: 100%; background: #000; cursor: grab; touch-action: none; display: block; }
.cxr-hint { opacity: 0.7; }
"""

VIEWER_JS = """
function voi(x, w, c) {  // DICOM PS3.3 C.11.2.1.2.1, output 0..255
  const lo = c - 0.5 - (w - 1) / 2, hi = c - 0.5 + (w - 1) / 2;
  if (x <= lo) return 0;
  if (x > hi) return 255;
  return ((x - (c - 0.5)) / (w - 1) + 0.5) * 255;
}

export default function (component) {
  const { data, parentElement } = component;
  const root = parentElement.querySelector('.cxr-viewer');
  const canvas = root.querySelector('.cxr-canvas');
  const wIn = root.querySelector('.cxr-w'), lIn = root.querySelector('.cxr-l');
  const s = root._cxr || (root._cxr = { zoom: 1, x: 0, y: 0, w: 256, c: 128, src: null, img: null });
  canvas.style.height = data.height || '520px';

  function draw() {
    const ctx = canvas.getContext('2d');
    canvas.width = canvas.clientWidth; canvas.height = canvas.clientHeight;
    ctx.fillStyle = '#000'; ctx.fillRect(0, 0, canvas.width, canvas.height);
    if (!s.windowed) return;
    const iw = s.windowed.naturalWidth || s.windowed.width, ih = s.windowed.naturalHeight || s.windowed.height;
    const fit = Math.min(canvas.width / iw, canvas.height / ih);
    const scale = fit * s.zoom;
    const dw = iw * scale, dh = ih * scale;
    ctx.imageSmoothingEnabled = s.zoom < 2;
    ctx.drawImage(s.windowed, (canvas.width - dw) / 2 + s.x, (canvas.height - dh) / 2 + s.y, dw, dh);
    root.dataset.zoom = s.zoom.toFixed(3); root.dataset.window = s.w; root.dataset.level = s.c;
    root.dataset.panX = s.x.toFixed(1); root.dataset.panY = s.y.toFixed(1);
  }
  function applyWindow() {
    if (!s.img) return;
    // W=256, C=128 is the identity: draw the decoded image itself. Copying and mapping every pixel of a
    // 2500 x 3000 film costs the browser far more than the page does, so it waits for the first W/L change.
    if (s.w === 256 && s.c === 128) { s.windowed = s.img; draw(); return; }
    if (!s.pixels) {
      const c = document.createElement('canvas'); c.width = s.img.naturalWidth; c.height = s.img.naturalHeight;
      const cx = c.getContext('2d'); cx.drawImage(s.img, 0, 0);
      s.pixels = cx.getImageData(0, 0, c.width, c.height);
    }
    const lut = new Uint8ClampedArray(256);
    for (let v = 0; v < 256; v++) lut[v] = Math.round(voi(v, s.w, s.c));
    const src = s.pixels.data, out = new ImageData(s.pixels.width, s.pixels.height), o = out.data;
    for (let i = 0; i < src.length; i += 4) {
      o[i] = lut[src[i]]; o[i + 1] = lut[src[i + 1]]; o[i + 2] = lut[src[i + 2]]; o[i + 3] = 255;
    }
    const off = s.windowed && s.windowed !== s.img ? s.windowed : document.createElement('canvas');
    off.width = out.width; off.height = out.height; off.getContext('2d').putImageData(out, 0, 0);
    s.windowed = off; draw();
  }
  function setWindow(w, c) {
    s.w = Math.max(1, Math.min(512, Math.round(w))); s.c = Math.max(0, Math.min(255, Math.round(c)));
    wIn.value = s.w; lIn.value = s.c; applyWindow();
  }
  function zoomBy(factor, px, py) {
    const z = Math.max(1, Math.min(16, s.zoom * factor)), k = z / s.zoom;
    const cx = px === undefined ? 0 : px - canvas.clientWidth / 2, cy = py === undefined ? 0 : py - canvas.clientHeight / 2;
    s.x = cx - (cx - s.x) * k; s.y = cy - (cy - s.y) * k; s.zoom = z;
    if (z === 1) { s.x = 0; s.y = 0; }
    draw();
  }
  if (!s.bound) {
    s.bound = true;
    root.querySelector('[data-act=in]').onclick = () => zoomBy(1.25);
    root.querySelector('[data-act=out]').onclick = () => zoomBy(0.8);
    root.querySelector('[data-act=reset]').onclick = () => { s.zoom = 1; s.x = 0; s.y = 0; setWindow(256, 128); };
    wIn.oninput = () => setWindow(+wIn.value, s.c);
    lIn.oninput = () => setWindow(s.w, +lIn.value);
    canvas.addEventListener('wheel', (e) => {
      e.preventDefault(); const r = canvas.getBoundingClientRect();
      zoomBy(e.deltaY < 0 ? 1.15 : 1 / 1.15, e.clientX - r.left, e.clientY - r.top);
    }, { passive: false });
    canvas.addEventListener('pointerdown', (e) => {
      canvas.setPointerCapture(e.pointerId);
      s.drag = { x: e.clientX, y: e.clientY, px: s.x, py: s.y, w: s.w, c: s.c, wl: e.shiftKey || e.button === 2 };
    });
    canvas.addEventListener('pointermove', (e) => {
      if (!s.drag) return;
      const dx = e.clientX - s.drag.x, dy = e.clientY - s.drag.y;
      if (s.drag.wl) setWindow(s.drag.w + dx, s.drag.c + dy);
      else { s.x = s.drag.px + dx; s.y = s.drag.py + dy; draw(); }
    });
    const end = () => { s.drag = null; };
    canvas.addEventListener('pointerup', end); canvas.addEventListener('pointercancel', end);
    canvas.addEventListener('contextmenu', (e) => e.preventDefault());
    canvas.addEventListener('keydown', (e) => {
      if (e.key === '+' || e.key === '=') zoomBy(1.25); else if (e.key === '-') zoomBy(0.8);
      else if (e.key === '0') { s.zoom = 1; s.x = 0; s.y = 0; setWindow(256, 128); } else return;
      e.preventDefault(); e.stopPropagation();
    });
    s.resize = new ResizeObserver(() => draw()); s.resize.observe(canvas);
  }
  if (s.src !== data.src) {
    s.src = data.src; s.img = null; s.pixels = null; s.windowed = null; s.zoom = 1; s.x = 0; s.y = 0;
    root.dataset.loaded = 'false';
    const img = new Image();
    img.onload = () => {
      if (s.src !== data.src) return;
      s.img = img; setWindow(s.w, s.c);
      root.dataset.src = data.src; root.dataset.loaded = 'true';
    };
    img.onerror = () => { root.dataset.loaded = 'error'; draw(); };
    img.src = data.src;
  }
  if (data.next && s.next !== data.next) {  // the next case's image into the HTTP cache while this one is read
    s.next = data.next; s.prefetch = new Image(); s.prefetch.src = data.next;
  }
  draw();
  return () => { if (s.resize) s.resize.disconnect(); root._cxr = null; };
}
"""

SHORTCUTS_JS = """
export default function (component) {
  const { data } = component;
  window.__cxrShortcuts = data;
  if (!window.__cxrShortcutHandler) {
    window.__cxrShortcutHandler = (e) => {
      const d = window.__cxrShortcuts;
      if (!d || e.defaultPrevented || e.ctrlKey || e.metaKey || e.altKey || e.repeat) return;
      const t = e.target, tag = t && t.tagName;
      const typing = tag === 'TEXTAREA' || tag === 'SELECT' || tag === 'BUTTON' || (t && t.isContentEditable)
        || (tag === 'INPUT' && !['radio', 'checkbox', 'range'].includes(t.type));
      if (typing) return;
      if (['1', '2', '3'].includes(e.key)) {
        const groups = d.criteria.map((k) => document.querySelector(`.st-key-${k}`)).filter(Boolean);
        const open = groups.find((g) => !g.querySelector('input[type=radio]:checked')) || groups[groups.length - 1];
        const labels = open ? open.querySelectorAll('label[data-testid=stRadioOption]') : [];
        const label = labels[Number(e.key) - 1];
        if (label) { label.click(); e.preventDefault(); }
      } else if (e.key === 'Enter') {
        const button = document.querySelector(`.${d.submit} button`);
        if (button) { button.click(); e.preventDefault(); }
      }
    };
    document.addEventListener('keydown', window.__cxrShortcutHandler, true);  // before widgets' own handlers
  }
}
"""

NAVIGATE_JS = """
export default function (component) {
  const { data } = component;
  if (data && data.url && window.__cxrNavigated !== data.url) {
    window.__cxrNavigated = data.url;
    window.location.replace(data.url);
  }
}
"""

_viewer = st.components.v2.component("cxr_image_viewer", html=VIEWER_HTML, css=VIEWER_CSS, js=VIEWER_JS)
_shortcuts = st.components.v2.component("cxr_shortcuts", js=SHORTCUTS_JS)
_navigate = st.components.v2.component("cxr_navigate", js=NAVIGATE_JS)


def image_viewer(src: str, height: str, key: str, next_src: str | None = None) -> Any:
    """``height``: a CSS length of the image area (e.g. ``calc(100vh - 200px)``); ``next_src``: an image to fetch
    into the browser's cache in the background (the next case's)."""
    return _viewer(data={"src": src, "height": height, "next": next_src}, key=key, height="content")


def keyboard_shortcuts(criteria_keys: list[str], submit_key: str) -> Any:
    """``criteria_keys``: widget keys of the preference radios; ``submit_key``: the submit button's CSS class."""
    return _shortcuts(
        data={"criteria": criteria_keys, "submit": submit_key}, key="shortcuts", height="content"
    )


def navigate(url: str) -> Any:
    return _navigate(data={"url": url}, key="navigate", height="content")


def page_style(css: str) -> None:
    """Page-wide CSS (``st.html`` with only a <style> block adds no visible element)."""
    st.html(f"<style>{css}</style>")
