// Agent-assist sidebar. Ticket text is untrusted: it is only ever set with textContent, never as HTML.
// The API key and agent name come in the URL fragment (#key=...&agent=...&origin=...), which browsers
// never send to a server, and are kept for this tab only.
"use strict";

(function () {
  const ticketId = decodeURIComponent(location.pathname.split("/").filter(Boolean).pop() || "");
  const params = new URLSearchParams(location.hash.slice(1));

  // Embedded in a helpdesk the page is a third-party frame, where browsers may deny storage entirely.
  function recall(name) {
    try {
      return sessionStorage.getItem(`triage.${name}`) || "";
    } catch (_) {
      return "";
    }
  }

  function remember(name, value) {
    try {
      sessionStorage.setItem(`triage.${name}`, value);
    } catch (_) { /* storage denied: the values live in memory for this page only */ }
  }

  const state = {
    key: params.get("key") || recall("key"),
    agent: params.get("agent") || recall("agent"),
    origin: params.get("origin") || recall("origin"),
    view: null,
  };
  if (location.hash) {
    // Keep the key out of the address bar and history once read.
    history.replaceState(null, "", location.pathname);
  }

  const $ = (id) => document.getElementById(id);

  function el(tag, text, className) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (className) node.className = className;
    return node;
  }

  function say(message) {
    $("status").textContent = message;
  }

  function fail(message) {
    const box = $("error");
    box.textContent = message;
    box.hidden = false;
  }

  async function api(path, options) {
    const response = await fetch(path, {
      ...options,
      headers: { "X-API-Key": state.key, "Content-Type": "application/json", ...(options && options.headers) },
    });
    if (!response.ok) {
      let detail = response.statusText;
      try {
        const body = await response.json();
        detail = typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail);
      } catch (_) { /* not JSON */ }
      throw new Error(`${response.status}: ${detail}`);
    }
    return response.json();
  }

  function renderScores(view) {
    const triage = view.triage;
    if (!triage) {
      $("model").textContent = "Not triaged yet.";
      $("scores").hidden = false;
      return;
    }
    for (const name of ["frustration", "urgency"]) {
      const score = triage[name];
      const badge = $(name);
      if (score) {
        badge.textContent = `${name}: ${score.level} (${Math.round(score.probability * 100)}%, ${score.confidence} confidence)`;
        badge.className = `badge level-${score.level}`;
      } else {
        badge.textContent = `${name}: not scored`;
      }
    }
    $("model").textContent = triage.supported
      ? `Model ${triage.model_version}, language ${triage.language || "unknown"}`
      : `Language ${triage.language || "unknown"} is not supported: not scored.`;
    const reasons = $("reasons");
    reasons.replaceChildren(...triage.reason_codes.map((code) => el("li", code)));
    $("scores").hidden = false;
    $("correct").hidden = !triage.supported;
  }

  function renderMessages(view) {
    const box = $("messages");
    box.replaceChildren();
    for (const message of view.messages) {
      const item = el("div", null, `message ${message.author_role}`);
      item.dataset.index = message.index;
      for (const segment of message.segments) {
        if (segment.highlight) {
          const mark = el("mark", segment.text, segment.signal || "");
          mark.title = `${segment.signal} evidence (weight ${segment.weight})`;
          item.append(mark);
        } else {
          item.append(document.createTextNode(segment.text));
        }
      }
      box.append(item);
    }
    $("evidence").hidden = view.messages.length === 0;
  }

  function renderActions(view) {
    const list = $("action-list");
    list.replaceChildren();
    for (const action of view.actions) {
      const item = el("li");
      const mode = action.shadow && action.mode === "auto" ? "shadow" : action.mode;
      item.append(el("span", mode, `mode mode-${mode}`));
      item.append(el("strong", action.action.replaceAll("_", " ") + (action.value ? `: ${action.value}` : "")));
      item.append(document.createTextNode(" "));
      item.append(el("span", `rule ${action.rule}`, "rule"));
      item.title = action.reason;
      item.dataset.rule = action.rule;
      list.append(item);
    }
    $("actions").hidden = view.actions.length === 0;
  }

  async function sendFeedback(body, done) {
    try {
      await api(`/v1/tickets/${encodeURIComponent(ticketId)}/feedback`, {
        method: "POST",
        body: JSON.stringify({ agent: state.agent || "unknown agent", ...body }),
      });
      say(done);
    } catch (error) {
      fail(`Feedback not saved (${error.message})`);
    }
  }

  async function copy(text) {
    try {
      await navigator.clipboard.writeText(text);
    } catch (_) {
      // Older embedding frames deny the clipboard API: fall back to a hidden selection.
      const area = el("textarea");
      area.value = text;
      document.body.append(area);
      area.select();
      document.execCommand("copy");
      area.remove();
    }
  }

  function renderDrafts(view) {
    const list = $("draft-list");
    list.replaceChildren();
    for (const draft of view.drafts) {
      const item = el("li", null, "draft");
      item.dataset.rank = draft.rank;
      const meta = `${draft.template_title || "draft"} · ${draft.backend} · tone ${draft.tone}` +
        (draft.fallback ? ` · generated text replaced (${draft.fallback})` : "");
      item.append(el("div", meta, "meta"));
      const area = el("textarea");
      area.value = draft.text;
      area.setAttribute("aria-label", `Draft ${draft.rank}`);
      item.append(area);
      const buttons = el("div", null, "buttons");
      const copyButton = el("button", "Copy", "primary");
      copyButton.type = "button";
      copyButton.addEventListener("click", async () => {
        await copy(area.value);
        say(`Draft ${draft.rank} copied.`);
      });
      const insert = el("button", "Insert");
      insert.type = "button";
      insert.addEventListener("click", () => {
        if (window.parent === window || !state.origin) {
          fail("Insert works inside the helpdesk sidebar; use Copy here.");
          return;
        }
        // Only the helpdesk origin named in the fragment receives the text.
        window.parent.postMessage({ type: "triage.insert_draft", ticket: ticketId, text: area.value }, state.origin);
        say(`Draft ${draft.rank} inserted.`);
      });
      const accept = el("button", "Accept");
      accept.type = "button";
      accept.addEventListener("click", () => {
        const edited = area.value.trim() !== draft.text.trim();
        const verdict = edited ? { rank: draft.rank, verdict: "edited", text: area.value } : { rank: draft.rank, verdict: "accepted" };
        sendFeedback({ draft: verdict }, `Draft ${draft.rank} ${verdict.verdict}: thank you.`);
      });
      const reject = el("button", "Reject");
      reject.type = "button";
      reject.addEventListener("click", () =>
        sendFeedback({ draft: { rank: draft.rank, verdict: "rejected" } }, `Draft ${draft.rank} rejected: thank you.`));
      buttons.append(copyButton, insert, accept, reject);
      item.append(buttons);
      list.append(item);
    }
    $("drafts").hidden = view.drafts.length === 0;
  }

  function renderHistory(view) {
    const history = view.history;
    $("trend").textContent = history.earlier.length
      ? `${history.earlier.length} earlier ticket(s); frustration ${history.trend} (${history.frustration_trend.join(" → ")})`
      : "No earlier tickets from this customer.";
    $("earlier").replaceChildren(...history.earlier.map((t) =>
      el("li", `${t.created_at.slice(0, 10)} · ${t.subject || t.external_id} · frustration ${t.frustration || "n/a"}, urgency ${t.urgency || "n/a"} · ${t.status}`)));
    $("history").hidden = false;
  }

  async function load() {
    if (!state.key) {
      $("login").hidden = false;
      $("app").setAttribute("aria-busy", "false");
      return;
    }
    remember("key", state.key);
    remember("agent", state.agent);
    remember("origin", state.origin);
    try {
      state.view = await api(`/v1/tickets/${encodeURIComponent(ticketId)}/assist`);
    } catch (error) {
      fail(`Could not load the ticket (${error.message})`);
      $("app").setAttribute("aria-busy", "false");
      return;
    }
    renderScores(state.view);
    renderMessages(state.view);
    renderActions(state.view);
    renderDrafts(state.view);
    renderHistory(state.view);
    $("app").setAttribute("aria-busy", "false");
    document.body.dataset.ready = "true";
  }

  $("login").addEventListener("submit", (event) => {
    event.preventDefault();
    state.key = $("key").value;
    state.agent = $("agent-name").value;
    $("login").hidden = true;
    load();
  });

  $("send-correction").addEventListener("click", () => {
    const body = {};
    if ($("fix-frustration").value) body.frustration = $("fix-frustration").value;
    if ($("fix-urgency").value) body.urgency = $("fix-urgency").value;
    if (!Object.keys(body).length) {
      say("Choose a level to correct first.");
      return;
    }
    sendFeedback(body, "Correction saved: thank you.");
  });

  load();
})();
