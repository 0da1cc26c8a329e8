// Shared by the page scripts: the CSRF token, translated messages, JSON requests.
"use strict";
(function () {
  const meta = document.querySelector('meta[name="csrf-token"]');
  const island = document.getElementById("messages");
  const messages = island ? JSON.parse(island.textContent) : {};

  function t(key, values) {
    let text = Object.prototype.hasOwnProperty.call(messages, key) ? messages[key] : key;
    for (const [name, value] of Object.entries(values || {})) {
      text = text.split("{" + name + "}").join(String(value));
    }
    return text;
  }

  async function request(method, url, body) {
    const headers = { "X-CSRF-Token": meta ? meta.content : "", Accept: "application/json" };
    const init = { method, headers, credentials: "same-origin" };
    if (body instanceof FormData) {
      init.body = body;
    } else if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const response = await fetch(url, init);
    let data = null;
    try {
      data = await response.json();
    } catch (e) {
      data = null;
    }
    return { ok: response.ok, status: response.status, data, headers: response.headers };
  }

  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (name === "text") node.textContent = value;
      else node.setAttribute(name, value === true ? "" : String(value));
    }
    for (const child of children || []) {
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  // Signing out forgets the speeches the debate page saved while they were typed (debate.js): on a
  // shared computer the next person must not find them in this browser's storage.
  document.addEventListener("submit", (event) => {
    const form = event.target;
    if (!(form instanceof HTMLFormElement) || new URL(form.action, location.href).pathname !== "/logout") return;
    try {
      for (const key of Object.keys(localStorage)) {
        if (key.startsWith("banron.speech.")) localStorage.removeItem(key);
      }
    } catch (e) {
      // storage unavailable (private mode): nothing was saved
    }
  });

  window.banron = { csrf: meta ? meta.content : "", t, request, el, lang: document.documentElement.lang || "ko" };
})();
