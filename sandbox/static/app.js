// The sandbox phone page: one simulated person's Telegram chat, SMS inbox and authenticator app.
// Plain JS, no build step. Everything goes through the control API (/api/...); the page refreshes
// whenever /api/events reports a new world version (long poll).
// Below 700 px the three apps are tabs with unread badges, and a banner tells when a push or an SMS
// arrives out of sight; wider, they stand side by side.
// Under Payfriend's latest message announcing the SMS fallback, a countdown says when the code is due.
"use strict";

const FAULT_MODES = ["none", "down", "slow", "error", "drop-callback", "duplicate-callback"];
const TABS = ["telegram", "sms", "auth"];
const TYPING_SECONDS = 5;  // how long Telegram shows a chat action (the sandbox keeps it as long)
const BANNER_SECONDS = 10;
const $ = (id) => document.getElementById(id);
const narrow = window.matchMedia("(max-width: 699.98px)");

const state = { people: [], phone: localStorage.getItem("payfriend.phone") || "", version: 0, seenAnswers: new Set(),
                tab: "telegram" };

async function api(method, path, body) {
  const init = { method, headers: {} };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch("/api" + path, init);
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(data.error || response.statusText);
  return data;
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "onclick") node.addEventListener("click", value);
    else if (key.startsWith("data-") || key.startsWith("aria-") || key === "role" || key === "title" || key === "type")
      node.setAttribute(key, value);
    else node[key] = value;
  }
  for (const child of children) if (child !== null && child !== undefined) node.append(child);
  return node;
}

function time(seconds) {
  return new Date(seconds * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
}

function showError(err) {
  toast(String(err.message || err), true);
}

function toast(text, isError = false) {
  const box = $("toast");
  box.textContent = text;
  box.classList.toggle("error", isError);
  box.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => (box.hidden = true), 4000);
}

const query = (phone) => "?phone=" + encodeURIComponent(phone);

// Bring a list in line with `items` node by node: an unchanged item keeps its node, so a live region
// announces only what is new and no button is replaced under the pointer.
function patchList(list, items, keyOf, build) {
  const nodes = [...list.children];
  items.forEach((item, i) => {
    const key = keyOf(item);
    if (nodes[i] && nodes[i].dataset.key === key) return;
    const node = build(item);
    node.dataset.key = key;
    if (nodes[i]) nodes[i].replaceWith(node);
    else list.append(node);
  });
  for (const node of nodes.slice(items.length)) node.remove();
}

// -- tabs, unread badges and the banner ---------------------------------------------------------

// What the person has seen, per app: ids of bot messages, inbound SMS and pushes. What arrives while
// its app is out of sight is unread until that app is opened.
const seen = { telegram: new Set(), sms: new Set(), auth: new Set() };
const unread = { telegram: new Set(), sms: new Set(), auth: new Set() };
const primed = {};  // app -> phone whose history is already counted as seen

function inSight(tab) {
  return !narrow.matches || state.tab === tab;
}

// Note the items an app shows now; answers those that just arrived out of sight (none on first look).
function arrived(tab, ids) {
  const fresh = ids.filter((id) => !seen[tab].has(id));
  for (const id of fresh) seen[tab].add(id);
  if (tab === "auth") for (const id of [...unread.auth]) if (!ids.includes(id)) unread.auth.delete(id);  // decided or expired
  if (primed[tab] !== state.phone) {
    primed[tab] = state.phone;
    return [];
  }
  if (inSight(tab)) return [];
  for (const id of fresh) unread[tab].add(id);
  renderBadges();
  return fresh;
}

function forgetSeen() {
  for (const tab of TABS) {
    seen[tab].clear();
    unread[tab].clear();
    delete primed[tab];
  }
  hideBanner();
  renderBadges();
}

const TAB_NAMES = { telegram: "Telegram", sms: "Messages", auth: "Authenticator" };

function renderBadges() {
  for (const tab of TABS) {
    const count = unread[tab].size;
    const badge = document.querySelector(`[data-testid=unread-${tab}]`);
    badge.textContent = count ? String(count) : "";
    badge.hidden = !count;
    const button = $("tab-" + tab);
    if (count) button.setAttribute("aria-label", `${TAB_NAMES[tab]}, ${count} new`);
    else button.removeAttribute("aria-label");
  }
}

function setTab(tab, focus = false) {
  state.tab = tab;
  document.body.dataset.tab = tab;
  for (const button of document.querySelectorAll("[role=tab]")) {
    const on = button.dataset.tab === tab;
    button.setAttribute("aria-selected", String(on));
    button.tabIndex = on ? 0 : -1;
    if (on && focus) button.focus();
  }
  unread[tab].clear();
  renderBadges();
  if (banner.tab === tab) hideBanner();
  if (tab === "telegram") scrollToEnd($("chat-messages"));
  if (tab === "sms") scrollToEnd($("sms-list"));
}

function scrollToEnd(list) {
  list.scrollTop = list.scrollHeight;
}

const banner = { tab: null, timer: null };

function showBanner(tab, title, body) {
  banner.tab = tab;
  $("banner-icon").className = "icon " + (tab === "auth" ? "auth" : "sms");
  $("banner-icon").textContent = tab === "auth" ? "✔" : "✉";
  $("banner-title").textContent = title;
  $("banner-body").textContent = body;
  $("banner").dataset.tab = tab;
  $("banner").hidden = false;
  clearTimeout(banner.timer);
  banner.timer = setTimeout(hideBanner, BANNER_SECONDS * 1000);
}

function hideBanner() {
  clearTimeout(banner.timer);
  banner.tab = null;
  $("banner").hidden = true;
}

// Redraw a part only when its data changed: no flicker, and no button replaced under the pointer.
const drawn = {};
function changed(part, data) {
  const key = state.phone + " " + JSON.stringify(data);
  if (drawn[part] === key) return false;
  drawn[part] = key;
  return true;
}

// -- people ----------------------------------------------------------------------------------

function renderPeople() {
  const select = $("person-select");
  select.replaceChildren(...state.people.map((p) =>
    el("option", { value: p.phone, textContent: `${p.name} · ${p.phone}`, "data-testid": "person-option" })));
  if (!state.people.some((p) => p.phone === state.phone)) state.phone = state.people.length ? state.people[0].phone : "";
  select.value = state.phone;
  document.body.classList.toggle("nobody", !state.phone);
  if (renderPeople.phone !== state.phone) forgetSeen();  // another phone: its own unread counts
  renderPeople.phone = state.phone;
}

function person() {
  return state.people.find((p) => p.phone === state.phone);
}

// -- telegram ----------------------------------------------------------------------------------

function renderChat(chat) {
  const me = chat.person;
  $("tg-status").textContent = me.blocked_bot ? "bot blocked" : me.started_bot ? "" : "not started";
  state.botStatus = me.blocked_bot ? "bot · blocked" : me.started_bot ? "bot" : "bot · not started";
  if (!$("typing").classList.contains("on")) $("typing").textContent = state.botStatus;
  $("start-bot").hidden = me.started_bot && !me.blocked_bot;
  $("block-bot").hidden = !me.started_bot || me.blocked_bot;
  const list = $("chat-messages");
  const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  const items = chat.messages.length ? chat.messages : [{ hint: "Press Start, or write /start." }];
  patchList(list, items, (m) => JSON.stringify(m), (m) => m.hint ? el("li", { class: "hint", textContent: m.hint }) : chatMessage(m));
  const latest = chat.messages.findLast((m) => m.from === "bot");
  placeCountdown(list, latest && list.children[chat.messages.indexOf(latest)], latest && latest.text, latest && latest.date);
  if (atBottom || renderChat.first !== state.phone) scrollToEnd(list);
  renderChat.first = state.phone;
  arrived("telegram", chat.messages.filter((m) => m.from === "bot").map((m) => String(m.message_id)));
  renderReplyKeyboard(chat.keyboard);
  const primed = state.seenAnswers.has("primed:" + state.phone);  // no toasts for old answers
  state.seenAnswers.add("primed:" + state.phone);
  for (const answer of chat.callback_answers) {
    if (answer.answered && !state.seenAnswers.has(answer.id)) {
      state.seenAnswers.add(answer.id);
      if (answer.answer_text && primed) toast(answer.answer_text);
    }
  }
}

// "typing…" while the bot's chat action lasts: from the latest look that saw it, or until its message comes.
function renderTyping(typing) {
  clearTimeout(renderTyping.timer);
  setTyping(typing);
  if (typing) renderTyping.timer = setTimeout(() => setTyping(false), TYPING_SECONDS * 1000);
}

function setTyping(on) {
  const status = $("typing");
  const text = on ? "typing…" : state.botStatus || "bot";
  if (status.textContent !== text) status.textContent = text;
  status.classList.toggle("on", on);
  $("typing-bubble").hidden = !on;
  $("tab-telegram").classList.toggle("typing", on);
  if (on) {
    const list = $("chat-messages");
    if (list.scrollHeight - list.scrollTop - list.clientHeight < 40) scrollToEnd(list);
  }
}

function chatMessage(m) {
  const body = m.contact
    ? el("div", { class: "contact" }, "☎ ", el("strong", { textContent: m.contact.first_name }), " +" + m.contact.phone_number.replace(/^\+/, ""))
    : el("div", { class: "text", textContent: m.text || "" });
  const meta = el("div", { class: "meta", textContent: (m.edited ? "edited " : "") + time(m.edit_date || m.date) });
  const item = el("li", { class: "bubble " + m.from, "data-testid": "chat-message", "data-from": m.from,
                          "data-message-id": m.message_id }, body, meta);
  if (m.inline_keyboard) {
    const keyboard = el("div", { class: "inline-keyboard" });
    for (const row of m.inline_keyboard) {
      keyboard.append(el("div", { class: "row" }, ...row.map((b) => b.url
        ? el("a", { href: b.url, target: "_blank", rel: "noopener", textContent: b.text + " ↗", class: "inline-button" })
        : el("button", { class: "inline-button", textContent: b.text, "data-testid": "inline-button",
                         "data-callback": b.callback_data, onclick: () => press(b.callback_data || b.text) }))));
    }
    item.append(keyboard);
  }
  return item;
}

function renderReplyKeyboard(rows) {
  const box = $("reply-keyboard");
  box.replaceChildren();
  for (const row of rows || []) {
    box.append(el("div", { class: "row" }, ...row.map((b) => el("button", {
      class: "reply-button" + (b.request_contact ? " contact" : ""), "data-testid": "reply-button",
      textContent: (b.request_contact ? "☎ " : "") + b.text, onclick: () => press(b.text) }))));
  }
}

async function press(button) {
  try { await api("POST", "/telegram/press", { phone: state.phone, button }); } catch (err) { showError(err); }
}

// -- sms ---------------------------------------------------------------------------------------

function renderSms(inbox) {
  const list = $("sms-list");
  const items = inbox.length ? inbox : [{ hint: "No messages yet." }];
  patchList(list, items, (m) => JSON.stringify(m), (m) => m.hint ? el("li", { class: "hint", textContent: m.hint }) : smsMessage(m));
  const inbound = inbox.filter((m) => m.direction === "inbound");
  const latest = inbound[inbound.length - 1];
  placeCountdown(list, latest && list.children[inbox.indexOf(latest)], latest && latest.body, latest && latest.at);
  scrollToEnd(list);
  const fresh = arrived("sms", inbound.map((m) => m.sid));
  const last = inbound.find((m) => m.sid === fresh[fresh.length - 1]);
  if (last && narrow.matches) showBanner("sms", "SMS from " + last.from, last.body);
}

function smsMessage(m) {
  return el("li", {
    class: "bubble " + (m.direction === "inbound" ? "bot" : "person"), "data-testid": "sms-message",
    "data-direction": m.direction }, el("div", { class: "from", textContent: m.direction === "inbound" ? m.from : "me" }),
    el("div", { class: "text" }, ...withCodes(m.body)), el("div", { class: "meta", textContent: time(m.at) }));
}

// Text with its one-time codes (4 to 10 digits) set apart, so they are easy to read and type.
function withCodes(text) {
  return text.split(/\b(\d{4,10})\b/).map((part, i) =>
    i % 2 ? el("strong", { class: "code", "data-testid": "sms-code", textContent: part }) : part);
}

// -- the countdown to the SMS fallback ----------------------------------------------------------

// Payfriend's push message: "... No decision within 15 seconds and we'll text you a code instead."
const FALLBACK = /No decision within (\d+(?:\.\d+)?) seconds and we['’]ll text you a code/;

// Under the latest message from Payfriend (`node`, sent at `sentAt` in Unix seconds), when it announces
// the SMS fallback: "SMS code in 0:12", then "Code due now". A later message from Payfriend (the outcome,
// or the code was texted) takes it away. The countdown ticks silently (aria-live off); its name gives
// the deadline.
function placeCountdown(list, node, text, sentAt) {
  const match = node && text ? FALLBACK.exec(text) : null;
  const deadline = match ? Number(sentAt) + Number(match[1]) : null;
  for (const old of list.querySelectorAll("[data-testid=fallback-countdown]")) {
    if (old.parentElement !== node || Number(old.dataset.deadline) !== deadline) old.remove();
  }
  if (deadline === null || node.querySelector("[data-testid=fallback-countdown]")) return;
  const countdown = el("div", { class: "countdown", role: "timer", "aria-live": "off", "data-testid": "fallback-countdown",
                                "data-deadline": deadline, "aria-label": "SMS code due at " + time(deadline) });
  node.insertBefore(countdown, node.querySelector(".meta"));
  tickCountdowns();
}

// Telegram dates are whole seconds, so the time left is rounded up and never below zero.
function tickCountdowns() {
  const now = Date.now() / 1000;
  for (const node of document.querySelectorAll("[data-testid=fallback-countdown]")) {
    const left = Math.max(0, Math.ceil(Number(node.dataset.deadline) - now));
    const text = left ? "SMS code in " + clock(left) : "Code due now";
    if (node.textContent !== text) node.textContent = text;
    node.classList.toggle("soon", left <= 5);
  }
}

// -- authenticator -----------------------------------------------------------------------------

function renderApprovals(approvals) {
  const pending = approvals.filter((a) => a.status === "pending");
  const done = approvals.filter((a) => a.status !== "pending").reverse();
  const box = $("approvals");
  box.closest(".app").classList.toggle("attention", pending.length > 0);
  $("auth-count").textContent = pending.length ? String(pending.length) : "";
  box.replaceChildren(...pending.map(approvalCard));
  if (!pending.length) box.append(el("p", { class: "hint", textContent: "No pending requests." }));
  $("approval-history").replaceChildren(...done.map((a) => el("li", {
    "data-testid": "approval-done", "data-id": a.id, "data-status": a.status },
    el("span", { class: "badge " + a.status, "data-testid": "approval-status", textContent: a.status }), " ",
    ...(a.late ? [el("span", { class: "badge late", "data-testid": "approval-late",
                               textContent: "no longer needed" }), " "] : []),
    a.message + " · " + detailsSummary(a.details))));
  const fresh = arrived("auth", pending.map((a) => a.id));
  const push = pending.find((a) => a.id === fresh[fresh.length - 1]);
  if (push && narrow.matches) showBanner("auth", "Approve in your authenticator", pushSummary(push));
}

// "$20.00 to Neville" when the push names them, else its message.
function pushSummary(a) {
  const amount = detail(a.details, /amount/i);
  const payee = detail(a.details, /payee|sending to|recipient|^to$/i);
  return amount && payee ? `${amount} to ${payee}` : a.message;
}

function detailsSummary(details) {
  return Object.entries(details || {}).map(([k, v]) => `${k}: ${v}`).join(", ");
}

// The detail whose label matches `pattern` ("Amount", "Sending to", "Payee" ...), if any.
function detail(details, pattern) {
  const found = Object.entries(details || {}).find(([k]) => pattern.test(k));
  return found ? String(found[1]) : null;
}

function approvalCard(a) {
  const rows = Object.entries(a.details || {}).map(([k, v]) =>
    el("tr", {}, el("th", { textContent: k }), el("td", { textContent: String(v), "data-testid": "detail-" + k.toLowerCase() })));
  const expires = a.expires_at
    ? el("span", { class: "expires", "data-expires": a.expires_at, "data-testid": "approval-expires" }) : null;
  const amount = detail(a.details, /amount/i);
  const payee = detail(a.details, /payee|sending to|recipient|^to$/i);
  const summary = amount || payee ? el("div", { class: "summary" },
    amount ? el("div", { class: "amount", "data-testid": "approval-amount", textContent: amount }) : null,
    payee ? el("div", { class: "payee" }, "to ", el("strong", { "data-testid": "approval-payee", textContent: payee })) : null)
    : null;
  return el("article", { class: "approval", "data-testid": "approval", "data-id": a.id, "data-status": a.status },
    el("header", {}, el("span", { class: "provider", textContent: a.provider === "verify" ? "Verify Push" : "Authy OneTouch" }), expires),
    summary,
    el("p", { class: "message", textContent: a.message }),
    el("table", { class: "details" }, ...rows),
    el("div", { class: "decide" },
      el("button", { class: "deny", textContent: "Deny", "data-testid": "deny", onclick: () => decide(a.id, "deny") }),
      el("button", { class: "approve", textContent: "Approve", "data-testid": "approve", onclick: () => decide(a.id, "approve") })));
}

// The Payfriend app (Verify Push SDK) on this phone: the switch, and how its last set-up link went.
function renderApp(installed, status) {
  const box = $("app-installed");
  if (!state.appBusy) box.checked = installed;
  const line = $("app-status");
  const text = !installed ? "Not installed: Verify Push cannot reach this phone"
    : status === null || status === undefined ? "Waiting for a set-up link from Payfriend"
    : status === "linking" ? "Setting up with Payfriend…"
    : status === "linked" ? "Linked to Payfriend"
    : "Set-up failed: " + status;
  if (line.textContent !== text) line.textContent = text;
  line.classList.toggle("linked", installed && status === "linked");
  line.classList.toggle("failed", installed && !!status && status !== "linked" && status !== "linking");
  line.dataset.status = installed ? status || "waiting" : "not-installed";
}

async function switchApp(e) {
  const installed = e.target.checked;
  state.appBusy = true;
  try {
    const answer = await api("POST", "/verify/app", { phone: state.phone, installed });
    state.appBusy = false;
    renderApp(answer.installed, answer.last_link_status);
  } catch (err) {
    state.appBusy = false;
    e.target.checked = !installed;
    showError(err);
  }
}

async function decide(id, decision) {
  try {
    const result = await api("POST", `/authenticator/${id}/${decision}`);
    if (!result.callback.sent) toast("Decision recorded; no callback sent: " + (result.callback.error || ""), true);
  } catch (err) { showError(err); }
}

function tickExpiry() {
  const now = Date.now() / 1000;
  for (const node of document.querySelectorAll("[data-expires]")) {
    const left = Math.max(0, Math.floor(Number(node.dataset.expires) - now));
    node.textContent = left ? "expires in " + clock(left) : "expired";
    node.classList.toggle("soon", left < 60);
  }
}

// 872 -> "14:32"; an hour or more -> "23:59:59".
function clock(seconds) {
  const pad = (n) => String(n).padStart(2, "0");
  const h = Math.floor(seconds / 3600), m = Math.floor((seconds % 3600) / 60), s = seconds % 60;
  return h ? `${h}:${pad(m)}:${pad(s)}` : `${m}:${pad(s)}`;
}

// -- faults ------------------------------------------------------------------------------------

function renderFaults(faults) {
  const box = $("faults");
  if (box.childElementCount !== Object.keys(faults).length) {
    box.replaceChildren(...Object.keys(faults).map((service) => el("label", {},
      service + " ", el("select", { "data-testid": "fault-" + service, "data-service": service,
        onchange: (e) => api("POST", "/faults", { service, mode: e.target.value }).catch(showError) },
        ...FAULT_MODES.map((m) => el("option", { value: m, textContent: m }))))));
  }
  for (const select of box.querySelectorAll("select")) {
    select.value = faults[select.dataset.service];
    select.classList.toggle("active", select.value !== "none");
  }
  const active = Object.values(faults).filter((mode) => mode !== "none").length;
  $("faults-active").textContent = active ? `(${active} on)` : "";
}

// -- refresh loop ------------------------------------------------------------------------------

async function refresh() {
  state.people = await api("GET", "/people");
  renderPeople();
  renderFaults((await api("GET", "/faults")).faults);
  const me = person();
  if (!me) return;
  $("sms-number").textContent = me.phone;
  renderApp(me.app_installed !== false, me.app_last_link_status);
  const [chat, inbox, approvals] = await Promise.all([
    api("GET", "/telegram/chat" + query(me.phone)),
    api("GET", "/sms/inbox" + query(me.phone)),
    api("GET", "/authenticator/approvals" + query(me.phone)),
  ]);
  if (changed("chat", chat)) renderChat(chat);
  renderTyping(chat.typing);
  if (changed("sms", inbox)) renderSms(inbox);
  if (changed("approvals", approvals)) renderApprovals(approvals);
  tickExpiry();
}

async function live() {
  for (;;) {
    try {
      const event = await api("GET", `/events?since=${state.version}&timeout=25`);
      setLive(true);
      if (event.version !== state.version) {
        await refresh();
        state.version = event.version;  // only once drawn: a failed refresh is tried again
      }
    } catch (err) {
      setLive(false);
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}

function setLive(on) {
  const dot = $("live");
  dot.classList.toggle("off", !on);
  dot.textContent = on ? "● live" : "● reconnecting…";
}

// -- wiring ------------------------------------------------------------------------------------

function wire() {
  $("person-select").addEventListener("change", (e) => {
    state.phone = e.target.value;
    localStorage.setItem("payfriend.phone", state.phone);
    refresh().catch(showError);
  });
  wireTabs();
  if (narrow.matches) $("knobs").open = false;  // a phone keeps the fault knobs folded away
  $("toggle-add").addEventListener("click", () => showAddForm(!$("add-person").classList.contains("open")));
  $("add-person").addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      const created = await api("POST", "/people", { phone: $("new-phone").value.trim(), name: $("new-name").value.trim() });
      state.phone = created.phone;
      localStorage.setItem("payfriend.phone", state.phone);
      e.target.reset();
      showAddForm(false);
      await refresh();
    } catch (err) { showError(err); }
  });
  $("chat-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const text = $("chat-input").value;
    if (!text.trim() || !state.phone) return;
    try {
      await api("POST", "/telegram/send", { phone: state.phone, text });
      $("chat-input").value = "";
      $("chat-input").focus();
    } catch (err) { showError(err); }
  });
  $("sms-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const text = $("sms-input").value;
    if (!text.trim() || !state.phone) return;
    try {
      const result = await api("POST", "/sms/send", { phone: state.phone, text });
      $("sms-input").value = "";
      $("sms-input").focus();
      $("sms-note").textContent = result.delivered ? "" : result.error || "";
    } catch (err) { showError(err); }
  });
  $("start-bot").addEventListener("click", () => api("POST", "/telegram/send", { phone: state.phone, text: "/start" }).catch(showError));
  $("share-contact").addEventListener("click", () => api("POST", "/telegram/share-contact", { phone: state.phone }).catch(showError));
  $("block-bot").addEventListener("click", () => api("POST", "/telegram/block", { phone: state.phone }).catch(showError));
  $("app-installed").addEventListener("change", switchApp);
  $("reset-sandbox").addEventListener("click", resetSandbox);
  $("change-number").addEventListener("click", openChangeNumber);
  $("change-number-form").addEventListener("submit", changeNumber);
  $("change-number-cancel").addEventListener("click", () => $("change-number-dialog").close());
  $("change-number-dialog").addEventListener("close", () => $("change-number").focus());
  setInterval(tickExpiry, 1000);
  setInterval(tickCountdowns, 250);  // a new second shows within a quarter of one
}

// Telegram's "Change Number": this person's Telegram account (its id and chat with the bot) moves to
// another number; the page then shows the person holding it. The API judges the number.
function openChangeNumber() {
  const me = person();
  if (!me) return;
  $("change-number-from").textContent = me.phone;
  $("change-number-input").value = "";
  setChangeNumberError("");
  $("change-number-dialog").showModal();
  $("change-number-input").focus();
}

function setChangeNumberError(text) {
  $("change-number-error").textContent = text;
  if (text) $("change-number-input").setAttribute("aria-invalid", "true");
  else $("change-number-input").removeAttribute("aria-invalid");
}

async function changeNumber(e) {
  e.preventDefault();
  const from = state.phone, submit = $("change-number-submit");
  submit.disabled = true;
  try {
    const holder = await api("POST", "/telegram/change-number", { phone: from, new_phone: $("change-number-input").value.trim() });
    $("change-number-dialog").close();
    state.phone = holder.phone;
    localStorage.setItem("payfriend.phone", state.phone);
    refresh().then(() => toast(`Telegram account moved from ${from} to ${holder.phone}.`), showError);
  } catch (err) {
    setChangeNumberError(String(err.message || err));
    $("change-number-input").focus();
  } finally {
    submit.disabled = false;
  }
}

function showAddForm(open) {
  $("add-person").classList.toggle("open", open);
  $("toggle-add").setAttribute("aria-expanded", String(open));
  if (open) $("new-name").focus();
}

function wireTabs() {
  const tabs = [...document.querySelectorAll("[role=tab]")];
  for (const button of tabs) {
    button.addEventListener("click", () => setTab(button.dataset.tab));
    button.addEventListener("keydown", (e) => {
      const i = tabs.indexOf(button);
      const next = { ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: tabs.length - 1 }[e.key];
      if (next === undefined) return;
      e.preventDefault();
      setTab(tabs[(next + tabs.length) % tabs.length].dataset.tab, true);
    });
  }
  $("banner-open").addEventListener("click", () => { if (banner.tab) setTab(banner.tab); });
  $("banner-close").addEventListener("click", hideBanner);
  narrow.addEventListener("change", () => {  // wide: every app is in sight, nothing stays unread
    if (!narrow.matches) {
      for (const tab of TABS) unread[tab].clear();
      hideBanner();
      renderBadges();
    }
  });
}

async function resetSandbox() {
  if (!confirm("Reset the sandbox? Everyone, every chat, SMS and approval is forgotten, and Payfriend's database is emptied.")) return;
  try {
    await api("POST", "/reset");
    state.phone = "";
    localStorage.removeItem("payfriend.phone");
    await refresh();
    toast("The sandbox and Payfriend's database are empty.");
  } catch (err) { showError(err); }
}

wire();
refresh().catch(showError).finally(live);
