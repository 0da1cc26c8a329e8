// The debate page: timer, speech submission, banron's streamed speech, evidence panel, flow sheet.
// Everything from the server is inserted as text (textContent / text nodes), never as HTML.
"use strict";
(function () {
  const { t, el, csrf, request, lang } = window.banron;
  let debate = JSON.parse(document.getElementById("debate-data").textContent);
  const options = JSON.parse(document.getElementById("debate-options").textContent);
  const base = "/api/debates/" + encodeURIComponent(options.id);

  const transcript = document.getElementById("transcript");
  const live = document.getElementById("live");
  const liveText = document.getElementById("live-text");
  const status = document.getElementById("status");
  const speakCard = document.getElementById("speak-card");
  const form = document.getElementById("speech-form");
  const textarea = document.getElementById("speech");
  const submit = document.getElementById("submit");
  const wordCount = document.getElementById("word-count");
  const timerEl = document.getElementById("timer");
  const timerToggle = document.getElementById("timer-toggle");
  const timerReset = document.getElementById("timer-reset");
  const evidenceBody = document.getElementById("evidence-body");
  const evidenceTitle = document.getElementById("evidence-title");
  // Timings (performance.now() ms) for the benchmarks and tests: submit, speech request, first piece, turn.
  const metrics = (window.banronMetrics = {
    submittedAt: null,
    speechStartedAt: null,
    firstPieceAt: null,
    firstPieceMs: null,
    turnAt: null,
    speeches: 0,
  });

  function say(message, isError) {
    status.textContent = message;
    status.classList.toggle("bad", !!isError);
  }

  // -- timer: counts down the phase's time; elapsed seconds go with the speech -----------------
  const timer = { running: false, startedAt: 0, spent: 0, handle: null };
  function elapsed() {
    return timer.spent + (timer.running ? (Date.now() - timer.startedAt) / 1000 : 0);
  }
  function fmt(seconds) {
    const s = Math.abs(Math.round(seconds));
    return Math.floor(s / 60) + ":" + String(s % 60).padStart(2, "0");
  }
  function drawTimer() {
    if (!timerEl || !debate.slot) return;
    const left = debate.slot.time_s - elapsed();
    timerEl.textContent = left >= 0 ? fmt(left) : t("timer_over", { time: fmt(left) });
    timerEl.classList.toggle("over", left < 0);
    timerToggle.textContent = timer.running ? t("timer_pause") : t("timer_start");
  }
  function startTimer() {
    if (timer.running) return;
    timer.running = true;
    timer.startedAt = Date.now();
    timer.handle = setInterval(drawTimer, 250);
    drawTimer();
  }
  function pauseTimer() {
    if (!timer.running) return;
    timer.spent = elapsed();
    timer.running = false;
    clearInterval(timer.handle);
    drawTimer();
  }
  function resetTimer() {
    pauseTimer();
    timer.spent = 0;
    drawTimer();
  }
  if (timerToggle) timerToggle.addEventListener("click", () => (timer.running ? pauseTimer() : startTimer()));
  if (timerReset) timerReset.addEventListener("click", resetTimer);

  function words(text) {
    const trimmed = text.trim();
    return trimmed ? trimmed.split(/\s+/).length : 0;
  }
  function drawWords() {
    if (!wordCount || !debate.slot) return;
    const n = words(textarea.value);
    wordCount.textContent = t("words", { n, limit: debate.slot.words });
    wordCount.classList.toggle("over", n > debate.slot.words);
  }
  if (textarea) {
    textarea.addEventListener("input", () => {
      if (textarea.value.trim()) startTimer(); // the clock starts with the first word
      drawWords();
      saveSpeech();
      draftSoon();
    });
  }

  // -- the speech being written: kept in this browser, and read ahead by banron -----------------
  // Autosave: a reload or a crashed tab loses nothing typed. The text is kept per debate with the
  // number of the student's speeches stored when it was written, so a speech that was submitted
  // (its answer lost to a crash) is never brought back as the next one.
  const saveKey = "banron.speech." + options.id;
  function spoken() {
    return debate.turns.filter((turn) => turn.speaker === "student").length;
  }
  function storage(action) {
    try {
      return action(window.localStorage);
    } catch (e) {
      return null; // private mode, storage full or disabled: the page works without it
    }
  }
  function saveSpeech() {
    const text = textarea.value;
    storage((s) => (text.trim() ? s.setItem(saveKey, JSON.stringify({ after: spoken(), text })) : s.removeItem(saveKey)));
  }
  function forgetSpeech() {
    storage((s) => s.removeItem(saveKey));
  }
  function savedSpeech() {
    const raw = storage((s) => s.getItem(saveKey));
    if (!raw) return "";
    let saved = null;
    try {
      saved = JSON.parse(raw);
    } catch (e) {
      saved = null;
    }
    if (!saved || typeof saved.text !== "string" || saved.after !== spoken()) {
      forgetSpeech(); // unreadable, or written for a speech already stored
      return "";
    }
    return saved.text;
  }

  // Read-ahead: a pause in typing sends the speech so far as a draft. The server answers with the
  // claims banron would answer (shown under the textarea) and starts embedding them, so the submit
  // is faster. A draft is only a hint: failures are ignored and never block the submit.
  const DRAFT_PAUSE_MS = 1200; // after the last keystroke
  const DRAFT_RETRY_MS = 4000; // after "could not read now"
  const draftBox = document.getElementById("draft");
  const draftList = document.getElementById("draft-claims");
  const drafts = {
    timer: null,
    busy: false, // a draft request is in flight
    again: false, // text changed while it was: send the latest when it returns
    sent: null, // trimmed text of the last draft the server read (null: none)
    retried: false, // the one retry after read: false is used
    off: false, // the debate is over
    epoch: 0, // bumped on submit: answers to older drafts are dropped
  };

  function drawClaims(claims) {
    if (!draftList) return;
    const shown = textarea.value.trim() ? claims : [];
    draftList.replaceChildren(...shown.map((c) => el("li", { text: c.text })));
    draftBox.hidden = shown.length === 0;
  }
  function cancelDraft() {
    clearTimeout(drafts.timer);
    drafts.timer = null;
  }
  function clearDraft() {
    cancelDraft();
    drafts.sent = null;
    drafts.retried = false;
    drafts.epoch += 1;
    drawClaims([]);
  }
  function canDraft() {
    const slot = debate.slot;
    return !!(textarea && form && !drafts.off && !submit.disabled && slot && slot.speaker === "student" && slot.part === "speech");
  }
  function draftSoon(delay) {
    if (!textarea) return;
    cancelDraft();
    if (!textarea.value.trim()) {
      drafts.sent = null; // typed again later, the same text is sent again
      drawClaims([]);
      return;
    }
    drafts.retried = false;
    drafts.timer = setTimeout(sendDraft, delay === undefined ? DRAFT_PAUSE_MS : delay);
  }
  async function sendDraft() {
    drafts.timer = null;
    if (!canDraft()) return;
    const text = textarea.value.trim();
    if (!text || text === drafts.sent) return;
    if (drafts.busy) {
      drafts.again = true;
      return;
    }
    drafts.busy = true;
    drafts.again = false;
    const epoch = drafts.epoch;
    let res = null;
    try {
      res = await request("POST", base + "/draft", { text });
    } catch (e) {
      res = null; // offline: the next pause tries again
    }
    drafts.busy = false;
    if (epoch === drafts.epoch && res) {
      if (res.status === 202 && res.data && res.data.read) {
        drafts.sent = text;
        drawClaims(res.data.claims || []);
      } else if (res.status === 202 && !drafts.retried) {
        drafts.retried = true; // banron is busy with this debate: look again in a moment
        clearTimeout(drafts.timer);
        drafts.timer = setTimeout(sendDraft, DRAFT_RETRY_MS);
      } else if (res.status === 409) {
        drafts.off = true;
      } else if (res.status === 429 && !drafts.timer) {
        // Too many drafts (several tabs?): the latest text goes once the limit allows.
        const wait = Math.min(60, Number(res.headers.get("Retry-After")) || 10);
        drafts.timer = setTimeout(sendDraft, wait * 1000);
      }
    }
    if (drafts.again && epoch === drafts.epoch) {
      drafts.again = false;
      sendDraft();
    }
  }
  // After banron's speech (drafts wait while it speaks): read what the student wrote meanwhile.
  function draftAfterSpeech() {
    if (!textarea || !textarea.value.trim()) return;
    drafts.sent = null;
    drafts.retried = false;
    sendDraft();
  }

  // -- rendering --------------------------------------------------------------------------------
  function speechNodes(text, citeNumbers) {
    const nodes = [];
    for (const para of text.trim().split(/\n\s*\n/)) {
      if (!para.trim()) continue;
      const p = el("p");
      let last = 0;
      for (const m of para.matchAll(/\[(\d{1,3})\]/g)) {
        const n = Number(m[1]);
        if (citeNumbers && !citeNumbers.has(n)) continue;
        p.append(document.createTextNode(para.slice(last, m.index)));
        p.append(el("button", { type: "button", class: "cite", "data-n": n, "aria-label": t("cite_label", { n }), text: "[" + n + "]" }));
        last = m.index + m[0].length;
      }
      p.append(document.createTextNode(para.slice(last)));
      nodes.push(p);
    }
    return nodes;
  }

  function turnItem(turn) {
    const head = el("h3", { class: "turn-head" }, [el("span", { class: "turn-n", text: turn.turn + "." })]);
    if (turn.phase_name[lang]) head.append(" ", el("span", { class: "phase-name", text: turn.phase_name[lang] }));
    if (turn.part !== "speech") head.append(" ", el("span", { class: "part", text: t("part_" + turn.part) }));
    head.append(" ", el("span", { class: "who", text: t("speaker_" + turn.speaker) + " · " + t("side_" + turn.side) }));
    const li = el("li", { class: "turn " + turn.speaker, "data-n": turn.turn }, [head]);
    const cites = new Set(turn.citations.map((c) => c.n));
    li.append(el("div", { class: "speech" }, speechNodes(turn.text, cites)));
    if (turn.warnings.length) li.append(el("ul", { class: "warnings" }, turn.warnings.map((w) => el("li", { text: w }))));
    if (turn.citations.length) {
      const list = el("ol", { class: "sources", "aria-label": t("sources") });
      for (const c of turn.citations) {
        const item = el("li", {}, [
          el("button", { type: "button", class: "cite", "data-n": c.n, "aria-label": t("cite_label", { n: c.n }), text: "[" + c.n + "]" }),
          " ",
          el("span", { class: "src-title", text: c.title || c.passage_id }),
        ]);
        if (c.source) item.append(" ", el("span", { class: "muted", text: "— " + c.source }));
        list.append(item);
      }
      li.append(list);
    }
    return li;
  }

  function drawTimeline() {
    const list = document.getElementById("timeline");
    list.replaceChildren(
      ...debate.timeline.map((p) => {
        const li = el("li", { class: p.state + " " + p.speaker, "aria-current": p.state === "current" ? "step" : null }, [
          el("span", { class: "phase-name", text: p.name[lang] }),
          " ",
          el("span", {
            class: "muted",
            text: t("speaker_" + p.speaker) + " · " + t("minutes", { m: Math.floor(p.time_s / 60), s: String(p.time_s % 60).padStart(2, "0") }),
          }),
        ]);
        return li;
      })
    );
  }

  function drawFlow() {
    const box = document.getElementById("flow");
    const flow = debate.flow;
    if (!flow.columns.length) {
      box.replaceChildren(el("p", { class: "muted", text: t("flow_empty") }));
      return;
    }
    const head = el("tr", {}, flow.columns.map((c) =>
      el("th", { scope: "col" }, [c.turn + ". " + (c.name[lang] || c.phase) + " ", el("span", { class: "muted", text: "(" + t("side_" + c.side) + ")" })])
    ));
    const rows = flow.rows.map((row) =>
      el("tr", {}, row.map((cell) =>
        el("td", {}, cell.map((claim) => {
          const p = el("p", { class: "claim " + claim.side + (claim.dropped ? " dropped" : "") }, [
            el("span", { class: "claim-id", text: claim.id }),
            " " + claim.text,
          ]);
          if (claim.dropped) p.append(" ", el("strong", { class: "drop-mark", text: t("dropped") }));
          return p;
        }))
      ))
    );
    const table = el("table", { class: "flow" }, [
      el("caption", { class: "visually-hidden", text: t("flow") }),
      el("thead", {}, [head]),
      el("tbody", {}, rows),
    ]);
    box.replaceChildren(el("div", { class: "table-wrap" }, [table]));
  }

  function drawSlot() {
    const badge = document.getElementById("status-badge");
    badge.textContent = t("status_" + debate.status);
    if (!speakCard) return;
    const slot = debate.slot;
    const mine = slot && slot.speaker === "student";
    speakCard.hidden = !mine;
    if (!mine) return;
    document.getElementById("phase-title").textContent =
      slot.name[lang] + (slot.part !== "speech" ? " · " + t("part_" + slot.part) : "");
    document.getElementById("phase-purpose").textContent = slot.purpose[lang];
    resetTimer();
    drawWords();
  }

  async function refresh() {
    const res = await request("GET", base);
    if (!res.ok) return;
    debate = res.data;
    drawTimeline();
    drawFlow();
    drawSlot();
  }

  // -- banron's speech: server-sent events over a POST (so the CSRF token goes with it) ---------
  async function speak() {
    live.hidden = false;
    live.setAttribute("aria-busy", "true");
    liveText.replaceChildren();
    say(t("banron_thinking"));
    if (submit) submit.disabled = true;
    const started = performance.now();
    metrics.speechStartedAt = started;
    metrics.firstPieceAt = null;
    metrics.firstPieceMs = null;
    metrics.turnAt = null;
    let text = "";
    try {
      const response = await fetch(base + "/speak", {
        method: "POST",
        headers: { "X-CSRF-Token": csrf, Accept: "text/event-stream" },
        credentials: "same-origin",
      });
      if (!response.ok || !response.body) throw new Error("HTTP " + response.status);
      const reader = response.body.getReader();
      const decoder = new TextDecoder();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true });
        let cut;
        while ((cut = buffer.indexOf("\n\n")) >= 0) {
          const frame = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          let event = "message";
          let data = "";
          for (const line of frame.split("\n")) {
            if (line.startsWith("event:")) event = line.slice(6).trim();
            else if (line.startsWith("data:")) data += line.slice(5).trim();
          }
          if (!data) continue;
          const payload = JSON.parse(data);
          if (event === "piece") {
            if (metrics.firstPieceMs === null) {
              metrics.firstPieceAt = performance.now();
              metrics.firstPieceMs = metrics.firstPieceAt - started;
              document.body.dataset.firstPieceMs = String(Math.round(metrics.firstPieceMs));
            }
            text += payload.text;
            liveText.replaceChildren(...speechNodes(text, new Set()));
            say(t("banron_speaking"));
          } else if (event === "turn") {
            metrics.turnAt = performance.now();
            transcript.append(turnItem(payload));
            text = "";
            liveText.replaceChildren();
            metrics.speeches += 1;
          } else if (event === "error") {
            say(t("speech_failed", { message: payload.message }), true);
          }
        }
      }
      if (!status.classList.contains("bad")) say(t("your_turn"));
    } catch (e) {
      say(t("speech_failed", { message: e.message }), true);
    } finally {
      live.hidden = true;
      live.setAttribute("aria-busy", "false");
      if (submit) submit.disabled = false;
      await refresh();
      document.body.dataset.speeches = String(metrics.speeches);
      if (debate.status === "finished") say(t("finished"));
      draftAfterSpeech();
    }
  }

  if (form) {
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      metrics.submittedAt = performance.now();
      const text = textarea.value.trim();
      if (!text) {
        say(t("empty_speech"), true);
        textarea.focus();
        return;
      }
      submit.disabled = true;
      cancelDraft(); // no draft of a speech being submitted
      const spent = elapsed();
      pauseTimer();
      let res;
      try {
        res = await request("POST", base + "/turns", { text, elapsed_s: spent > 0 ? spent : null });
      } catch (e) {
        submit.disabled = false;
        say(t("error_network"), true); // the speech stays in the textarea and in this browser
        return;
      }
      submit.disabled = false;
      if (res.status === 201) {
        transcript.append(turnItem(res.data));
        textarea.value = "";
        forgetSpeech();
        clearDraft();
        say("");
        await refresh();
        if (debate.slot && debate.slot.speaker === "banron") await speak();
      } else if (res.status === 429) {
        say(t("rate_limited", { seconds: res.headers.get("Retry-After") || "60" }), true);
      } else {
        say(t("submit_failed", { message: (res.data && res.data.detail) || res.status }), true);
      }
    });
  }

  // -- evidence panel ---------------------------------------------------------------------------
  async function showEvidence(turnN, n) {
    const res = await request("GET", base + "/citations/" + turnN + "/" + n);
    if (!res.ok) {
      evidenceBody.replaceChildren(el("p", { class: "bad", text: t("evidence_missing") }));
      return;
    }
    const c = res.data;
    const meta = [c.source];
    if (c.page) meta.push(t("page", { page: c.page }));
    if (c.section) meta.push(c.section);
    const text = el("blockquote", { class: "passage-text" });
    if (c.highlight) {
      const [a, b] = c.highlight;
      text.append(document.createTextNode(c.text.slice(0, a)), el("mark", { text: c.text.slice(a, b) }), document.createTextNode(c.text.slice(b)));
    } else {
      text.append(document.createTextNode(c.text));
    }
    evidenceBody.replaceChildren(
      el("h3", { class: "evidence-head", text: "[" + c.n + "] " + (c.title || c.passage_id) }),
      el("p", { class: "muted", text: meta.filter(Boolean).join(" · ") }),
      text,
      c.missing ? el("p", { class: "muted", text: t("evidence_removed") }) : el("span")
    );
    evidenceTitle.focus();
  }

  document.addEventListener("click", (event) => {
    const button = event.target.closest("button.cite");
    if (!button) return;
    const turn = button.closest("[data-n].turn");
    if (!turn) return;
    showEvidence(turn.dataset.n, button.dataset.n);
  });

  drawTimer();
  if (textarea && debate.slot && debate.slot.speaker === "student") {
    if (!textarea.value) textarea.value = savedSpeech(); // what was typed before a reload or a crash
    if (textarea.value.trim()) draftSoon(0);
  } else if (textarea && debate.status === "finished") {
    forgetSpeech();
  }
  drawWords();
  if (options.can_speak && debate.slot && debate.slot.speaker === "banron") speak();
})();
