// Fills the status page from this monitor's GET /status every second, without reloading.
// Everything is written as text (textContent), never as markup.
"use strict";

const PERIOD_MS = 1000;
const TIMEOUT_MS = 2000;
const CHECKS = ["ping", "mysql", "rep_threads", "rep_backlog"];
let lastAnswer = null;

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}

function row(cells) {
  const tr = el("tr");
  for (const c of cells) tr.appendChild(c instanceof Node ? c : el("td", c));
  return tr;
}

function fill(id, rows) {
  document.querySelector("#" + id + " tbody").replaceChildren(...rows);
}

function time(ms) {
  return new Date(ms).toLocaleString();
}

function summary(doc) {
  const r = doc.raft;
  const leader = r.leader === null ? "no leader known" : "leader " + r.leader;
  const epoch = doc.epoch === null ? "no state applied yet" : "epoch " + doc.epoch + ", mode " + doc.mode;
  return "Answered by monitor " + doc.monitor + " (" + r.state + ", term " + r.term + "); " +
    leader + "; " + epoch + ".";
}

function hostRows(doc) {
  return doc.hosts.map((h) => row([
    el("td", h.name), el("td", h.ip), el("td", h.mode),
    el("td", h.state, "state-" + h.state),
    el("td", h.roles.join(", ")),
    el("td", h.agent_down ? "not reachable" : "reachable", h.agent_down ? "fail" : "ok"),
  ]));
}

function checkCell(c) {
  if (c === null) return el("td", "not known yet", "unknown");
  // mysql-mmm counts an UNKNOWN result as passing; it is shown apart all the same.
  const cls = !c.ok ? "fail" : c.message.startsWith("UNKNOWN") ? "unknown" : "ok";
  const td = el("td", c.message, cls);
  td.title = "last change: " + time(c.last_change_ms);
  return td;
}

function checkRows(doc) {
  return doc.checks.map((h) => row([el("td", h.host), ...CHECKS.map((k) => checkCell(h.checks[k]))]));
}

function monitorRows(doc) {
  return doc.raft.members.map((m) => row([
    el("td", m.name + (m.this ? " (this monitor)" : "")), el("td", m.id), el("td", m.address),
    el("td", m.voter ? "voter" : "learner"),
    el("td", m.leader ? "leader" : "", m.leader ? "ok" : ""),
    el("td", m.matched === null ? "-" : "log index " + m.matched),
    el("td", contact(m), m.reachability === "unreachable" ? "fail" : ""),
  ]));
}

function contact(m) {
  if (m.reachability === "self") return "-";
  const ago = m.last_contact_ms === null ? "" : " (last contact " + m.last_contact_ms + " ms ago)";
  return m.reachability + ago + (m.error ? ": " + m.error : "");
}

function historyItems(doc) {
  return doc.history.map((e) => el("li", time(e.at_ms) + "  [epoch " + e.epoch + "]  " + e.line));
}

function draw(doc) {
  document.getElementById("summary").textContent = summary(doc);
  document.getElementById("show").textContent = doc.show === "" ? "(no state applied yet)" : doc.show;
  document.getElementById("checks-by").textContent =
    "(as monitor " + doc.monitor + " sees them" + (doc.network_ok ? "" : "; its network check fails") + ")";
  fill("hosts", hostRows(doc));
  fill("checks", checkRows(doc));
  fill("monitors", monitorRows(doc));
  document.getElementById("history").replaceChildren(...historyItems(doc));
  document.getElementById("updated").textContent = time(doc.generated_at_ms);
  document.getElementById("banner").hidden = true;
  lastAnswer = Date.now();
}

function failed(why) {
  const banner = document.getElementById("banner");
  const since = lastAnswer === null ? "" : " since " + time(lastAnswer);
  banner.textContent = "This monitor does not answer" + since + " (" + why + "); what is shown may be out of date.";
  banner.hidden = false;
}

async function refresh() {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), TIMEOUT_MS);
  try {
    const reply = await fetch("/status", { cache: "no-store", signal: abort.signal });
    if (!reply.ok) throw new Error("HTTP " + reply.status);
    draw(await reply.json());
  } catch (e) {
    failed(e.name === "AbortError" ? "no answer within " + TIMEOUT_MS / 1000 + " s" : e.message);
  } finally {
    clearTimeout(timer);
    setTimeout(refresh, PERIOD_MS);
  }
}

refresh();
