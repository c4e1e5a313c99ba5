// Counsellor workspace: live updates by polling, and canned replies into the reply box.
// Everything works without this script; it only saves reloading. Text from the server is
// put in with textContent, never as HTML.
(function () {
  "use strict";
  const EVERY_MS = 4000;
  const csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  // the page's words in her interface language (bot/workspace/i18n.py JS_STRINGS)
  let T = {};
  try { T = JSON.parse(document.body.dataset.l10n || "{}"); } catch (e) { T = {}; }
  const t = text => T[text] || text;
  const L = {
    priority: { emergency: t("Emergency"), high: t("High"), normal: t("Normal") },
    status: { waiting: t("Waiting"), assigned: t("Claimed"), active: t("In conversation"), resolved: t("Resolved"), abandoned: t("No contact"), expired: t("Expired") },
    delivery: { queued: t("waiting to be sent"), sending: t("sending"), sent: t("sent"), delivered: t("delivered"), read: t("read"), failed: t("NOT DELIVERED"), held: t("HELD: her 24-hour window is closed; sent when she writes again"), created: t("stored"), pending: t("waiting for the bot") },
  };

  // The same wall clock as the server-rendered page: Copenhagen, "22.11. 14:05".
  const clock = new Intl.DateTimeFormat("da-DK", { timeZone: "Europe/Copenhagen", day: "2-digit", month: "2-digit", hour: "2-digit", minute: "2-digit", hour12: false });
  function when(iso) {
    const p = {};
    for (const part of clock.formatToParts(new Date(iso))) p[part.type] = part.value;
    return `${p.day}.${p.month}. ${p.hour}:${p.minute}`;
  }

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v !== null && v !== undefined && v !== false) node.setAttribute(k, v);
    }
    for (const c of children) node.append(c);
    return node;
  }

  function poll(url, apply, every) {
    every = every || EVERY_MS;
    let last = "";
    async function tick() {
      try {
        const r = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
        if (r.status === 401) { window.location = "/workspace/login?done=expired"; return; }
        if (r.ok) {
          const text = await r.text();
          if (text !== last) { last = text; apply(JSON.parse(text)); }
        }
      } catch (e) { /* network hiccup: try again next tick */ }
      setTimeout(tick, every);
    }
    setTimeout(tick, every);
  }

  // Queue: rows updated in place from /workspace/queue.json. A row, or a cell, is touched
  // only when what it shows changed, and the focused element keeps the focus, so keyboard
  // and screen-reader users can work the queue while it updates; new cases are announced
  // in a polite live region.
  const queue = document.getElementById("queue-rows");
  if (queue) {
    const table = queue.closest("table");
    const lang = {};
    document.querySelectorAll("#f-language option").forEach(o => { if (o.value) lang[o.value] = o.textContent; });
    const topic = {};
    document.querySelectorAll("#f-topic option").forEach(o => { if (o.value) topic[o.value] = o.textContent; });
    const LABELS = ["Case", "Priority", "Language", "Topic", "Waiting", "Her wishes", "Status", "Action"].map(t);
    const text = node => node.textContent.replace(/\s+/g, " ").trim();
    function row(c) {
      const link = el("a", { href: "/workspace/cases/" + c.id }, "#" + c.id);
      const prio = [el("span", { class: "badge p-" + c.priority }, L.priority[c.priority])];
      if (c.escalated) prio.push(" ", el("span", { class: "badge esc" }, t("waited long")));
      const wishes = [c.woman_counsellor ? t("a woman counsellor") : "", c.contact_later ? t("may be contacted later") : ""].filter(Boolean).join("; ");
      let status = L.status[c.status] || c.status;
      if (c.assigned_to) status += " · " + (c.mine ? t("you") : c.assigned_to);
      let language = lang[c.language] || c.language;
      if (c.write_in && c.write_in !== c.language) language += " · " + t("write in") + " " + (lang[c.write_in] || c.write_in);
      const action = c.can_claim
        ? el("form", { method: "post", action: "/workspace/cases/" + c.id + "/claim" },
            el("input", { type: "hidden", name: "csrf", value: csrf }), el("button", { type: "submit" }, t("Claim")))
        : el("a", { href: "/workspace/cases/" + c.id }, t("Open"));
      const waiting = c.waiting_minutes !== null ? c.waiting_minutes + " " + t("min")
        : c.unanswered_minutes !== null ? el("span", { class: "badge unanswered" }, t("she waits for an answer:") + " " + c.unanswered_minutes + " " + t("min"))
        : "–";
      const cells = [[link], prio, [language], [topic[c.topic] || c.topic], [waiting], [wishes], [status], [action]];
      return cells.map((content, i) => el("td", { "data-label": LABELS[i] }, ...content));
    }
    // the cases the page was rendered with: a case not among them, or among later updates, is new
    let known = new Set([...queue.querySelectorAll("tr[data-id]")].map(tr => tr.dataset.id));
    poll(table.dataset.poll, data => {
      const focused = document.activeElement;
      const rows = new Map();
      queue.querySelectorAll("tr[data-id]").forEach(tr => rows.set(tr.dataset.id, tr));
      const fresh = [];
      data.cases.forEach((c, i) => {
        const id = String(c.id);
        let tr = rows.get(id);
        const cells = row(c);
        if (!tr) {
          tr = el("tr", { "data-id": id }, ...cells);
          if (!known.has(id)) fresh.push(c);
        } else {
          cells.forEach((td, k) => {  // only the cells whose text changed
            const old = tr.children[k];
            if (!old) tr.append(td);
            else if (text(old) !== text(td)) old.replaceChildren(...td.childNodes);
          });
          rows.delete(id);
        }
        tr.className = "p-" + c.priority + (c.mine ? " mine" : "");
        const at = queue.querySelectorAll("tr[data-id]")[i];
        if (at !== tr) queue.insertBefore(tr, at || null);
      });
      rows.forEach(tr => tr.remove());  // gone from the queue
      let empty = queue.querySelector("tr:not([data-id])");
      if (data.cases.length && empty) empty.remove();
      if (!data.cases.length && !empty) queue.append(el("tr", {}, el("td", { colspan: "8", class: "empty" }, t("No cases here right now."))));
      if (focused && focused !== document.activeElement && document.contains(focused)) focused.focus({ preventScroll: true });
      data.cases.forEach(c => known.add(String(c.id)));
      if (fresh.length) {
        const news = document.getElementById("queue-news");
        const first = fresh[0];
        if (news) news.textContent = fresh.length === 1
          ? t("New case") + " #" + first.id + ": " + L.priority[first.priority] + ", " + (lang[first.language] || first.language)
          : fresh.length + " " + t("new cases");
      }
      document.dispatchEvent(new CustomEvent("queue-data", { detail: data }));
      const status = document.getElementById("queue-status");
      if (status) status.textContent = data.waiting + " " + t("waiting · updates every few seconds");
      document.title = (data.waiting ? "(" + data.waiting + ") " : "") + t("Queue · Counsellor workspace");
    });
  }

  // Case: her new messages are appended and the delivery state of ours updated in place, so
  // a screen reader announces only what is new (the list is aria-live).
  const transcript = document.getElementById("transcript");
  if (transcript) {
    function who(m) {
      return m.direction === "in" ? t("She wrote") : m.kind === "counsellor" ? (m.sender || t("Counsellor")) : m.kind === "emergency" ? t("Bot · emergency numbers")
        : m.kind === "held_notice" ? t("Bot · \u201cyour counsellor has your message\u201d") : t("Bot");
    }
    // her messages sent while the case was held, and whether anyone answered them
    function heldMark(li, m) {
      li.classList.toggle("while-held", !!m.held);
      let span = li.querySelector(".held-mark");
      if (!m.held) { if (span) span.remove(); return; }
      const label = m.unanswered ? t("while held · not answered") : t("while held");
      if (!span) { span = el("span", { class: "held-mark" }); li.querySelector(".when").after(span); }
      if (span.textContent !== label) span.textContent = label;
    }
    function unansweredList(data) {
      const box = document.getElementById("unanswered");
      if (!box) return;
      const open = data.transcript.filter(m => m.unanswered);
      box.hidden = !open.length;
      document.getElementById("unanswered-count").textContent = open.length;
      box.querySelector("ul").replaceChildren(...open.map(m =>
        el("li", {}, el("span", { class: "when" }, when(m.at)), " ", el("q", { dir: "auto" }, m.text))));
    }
    function delivery(li, m) {
      const problem = m.status === "failed" || m.status === "held";
      li.className = "msg " + (m.direction === "in" ? "in" : "out") + " k-" + m.kind + (problem ? " problem" : "");
      let span = li.querySelector(".delivery");
      const label = m.direction === "out" ? L.delivery[m.status] : "";
      if (!label) { if (span) span.remove(); return; }
      if (!span) { span = el("span", { class: "delivery" }); li.append(span); }
      if (span.textContent !== label) span.textContent = label;
    }
    poll(transcript.dataset.poll, data => {
      const atBottom = transcript.scrollHeight - transcript.scrollTop - transcript.clientHeight < 40;
      const shown = new Map();
      transcript.querySelectorAll("li[data-id]").forEach(li => shown.set(li.dataset.id, li));
      const empty = transcript.querySelector("li.empty");
      for (const m of data.transcript) {
        let li = shown.get(String(m.id));
        if (!li) {
          if (empty) empty.remove();
          li = el("li", { "data-id": m.id }, el("span", { class: "who" }, who(m)),
            el("span", { class: "when" }, when(m.at)), el("p", { dir: m.dir || "auto" }, m.text));
          transcript.append(li);
        }
        delivery(li, m);
        heldMark(li, m);
      }
      unansweredList(data);
      if (atBottom) transcript.scrollTop = transcript.scrollHeight;
      const status = document.getElementById("case-status");
      if (status && L.status[data.status]) status.textContent = L.status[data.status];
    });
    transcript.scrollTop = transcript.scrollHeight;
  }

  // Notifications of new cases, on every page a counsellor has open: a desktop notification
  // (the browser's Notification API) and a short sound, each if she switched it on (queue
  // page, kept in this browser); a new emergency always, as far as the browser allows. The
  // queue page's updates are used where it is open; other pages look every 10 seconds.
  const notifyFrom = document.body.dataset.notify;
  if (notifyFrom) {
    const pref = name => localStorage.getItem("ws-notify-" + name) === "on";
    const KNOWN = "ws-known-cases";
    let known = null;
    try { known = new Set(JSON.parse(sessionStorage.getItem(KNOWN) || "null")); } catch (e) { known = null; }
    let audio = null;  // browsers allow sound only after she has used the page
    const wake = () => { if (!audio && window.AudioContext) audio = new AudioContext(); };
    document.addEventListener("click", wake, { once: true });
    document.addEventListener("keydown", wake, { once: true });
    function beep(urgent) {
      if (!audio) return;
      const tones = urgent ? [880, 660, 880] : [660];
      tones.forEach((hz, i) => {
        const osc = audio.createOscillator(), gain = audio.createGain();
        osc.frequency.value = hz;
        gain.gain.value = 0.15;
        osc.connect(gain).connect(audio.destination);
        const at = audio.currentTime + i * 0.25;
        osc.start(at);
        osc.stop(at + 0.18);
      });
    }
    function announce(c) {
      const urgent = c.priority === "emergency";
      const title = (urgent ? t("EMERGENCY: new case") : t("New case")) + " #" + c.id;
      const body = (L.priority[c.priority] || c.priority) + " · " + c.language.toUpperCase() + " · " + c.topic;
      if ((urgent || pref("desktop")) && window.Notification && Notification.permission === "granted") {
        const n = new Notification(title, { body: body, tag: "case-" + c.id, requireInteraction: urgent });
        n.onclick = () => { window.focus(); window.location = "/workspace/cases/" + c.id; };
      }
      if (urgent || pref("sound")) beep(urgent);
    }
    function seen(data) {
      const waiting = data.cases.filter(c => c.status === "waiting");
      if (known === null) known = new Set();  // her first look: nothing is new yet
      else waiting.filter(c => !known.has(String(c.id))).forEach(announce);
      waiting.forEach(c => known.add(String(c.id)));
      sessionStorage.setItem(KNOWN, JSON.stringify([...known].slice(-500)));
    }
    if (queue) {
      if (known === null) known = new Set([...queue.querySelectorAll("tr[data-id]")].map(tr => tr.dataset.id));
      document.addEventListener("queue-data", e => seen(e.detail));
    } else {
      poll(notifyFrom, seen, 10000);
    }
    // the switches on the queue page
    document.querySelectorAll("input[data-notify]").forEach(box => {
      box.checked = pref(box.dataset.notify);
      box.addEventListener("change", async () => {
        if (box.checked && box.dataset.notify === "desktop" && window.Notification && Notification.permission !== "granted") {
          box.checked = (await Notification.requestPermission()) === "granted";
        }
        localStorage.setItem("ws-notify-" + box.dataset.notify, box.checked ? "on" : "off");
        if (box.checked) wake();
      });
    });
  }

  // Canned replies: choosing one puts its text in the reply box, to edit before sending.
  document.querySelectorAll("select[data-target]").forEach(select => {
    select.addEventListener("change", () => {
      const box = document.getElementById(select.dataset.target);
      if (box && select.value) { box.value = select.value; box.focus(); }
    });
  });
})();
