// Building the page from API data.  Every piece of data becomes a text node or
// an attribute value, never markup: nothing here parses HTML.

export function h(tag, props = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else element.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : String(child));
  }
  return element;
}

// A record's value at a dotted path ("issuer.name"); undefined when absent.
export function valueAt(record, dotted) {
  let value = record;
  for (const key of dotted.split(".")) {
    if (value === null || typeof value !== "object") return undefined;
    value = value[key];
  }
  return value;
}

export function display(value) {
  if (value === undefined || value === null || value === "") return "—";
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

const relative = new Intl.RelativeTimeFormat("en", { numeric: "auto" });
const UNITS = [
  ["year", 365 * 86400],
  ["month", 30 * 86400],
  ["day", 86400],
  ["hour", 3600],
  ["minute", 60],
  ["second", 1],
];

// "5 minutes ago", with the exact time as a tooltip.
export function timeAgo(iso) {
  if (!iso) return h("span", { class: "muted" }, "never");
  const seconds = (Date.parse(iso) - Date.now()) / 1000;
  const [unit, size] = UNITS.find(([, size]) => Math.abs(seconds) >= size) ?? UNITS.at(-1);
  return h("time", { datetime: iso, title: iso }, relative.format(Math.round(seconds / size), unit));
}

// The platform's own words (cluster status, history changes).  A kind's status
// column brings its own words from its display hints: nothing here guesses them.
const PLATFORM_WORDS = {
  good: ["connected"],
  warn: ["pending"],
  bad: ["disconnected", "deleted"],
};

// A status value as a coloured pill; the colour is a hint, the text says it all.
export function pill(value, words = PLATFORM_WORDS) {
  const text = display(value);
  const word = text.toLowerCase();
  const has = (tone) => (words[tone] ?? []).some((w) => w.toLowerCase() === word);
  const tone = ["good", "warn", "bad"].find(has) ?? "neutral";
  return h("span", { class: `pill pill-${tone}` }, text);
}

// A record value as its column declares (display hints' column types).
export function rendered(column, value) {
  if (value === undefined || value === null || value === "") return display(value);
  switch (column.type) {
    case "status":
      return pill(value, column);
    case "time":
      return typeof value === "string" ? timeAgo(value) : display(value);
    case "list":
      return Array.isArray(value) ? value.map(display).join(", ") : display(value);
    case "boolean":
      return value === true ? "yes" : value === false ? "no" : display(value);
    case "quantity":
      return typeof value === "number" ? value.toLocaleString("en") : display(value);
    default:
      return display(value);
  }
}

export function plural(count, noun) {
  return `${count.toLocaleString("en")} ${noun}${count === 1 ? "" : "s"}`;
}

// A titled card; `level` 1 for the page's own title.
export function card(title, ...children) {
  return h("section", { class: "card" }, h("h2", {}, title), ...children);
}

// A table that scrolls sideways on a narrow screen instead of breaking the page.
export function table(headers, rows, props = {}) {
  return h(
    "div",
    { class: "table-wrap" },
    h("table", { class: `data ${props.class ?? ""}` }, h("thead", {}, h("tr", {}, headers.map((title) => h("th", { scope: "col" }, title)))), h("tbody", {}, rows)),
  );
}

// Breadcrumbs: [label, href] pairs, the last one the current page (no link).
export function crumbs(...steps) {
  const items = steps.map(([label, href], index) =>
    h("li", {}, index === steps.length - 1 || !href ? h("span", { "aria-current": "page" }, label) : h("a", { href }, label)),
  );
  return h("nav", { class: "crumbs", "aria-label": "Breadcrumb" }, h("ol", {}, items));
}

// The banner of a view of the past: what time, and the way back to now.
export function pastBanner(asOf, nowHref) {
  return h(
    "div",
    { class: "past-banner", role: "status" },
    h("strong", {}, "Viewing the past: "),
    "the inventory as it was at ",
    h("time", { datetime: asOf }, new Date(asOf).toLocaleString("en")),
    ". ",
    h("a", { href: nowHref }, "Back to now"),
  );
}

// An <input type="datetime-local"> value (local time) as an ISO instant, or "".
export function isoFromLocal(value) {
  if (!value) return "";
  const parsed = new Date(value);
  return Number.isNaN(parsed.getTime()) ? "" : parsed.toISOString();
}

// An ISO instant as an <input type="datetime-local"> value, in local time.
export function localFromIso(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return "";
  const pad = (n) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

export function field(label, input) {
  return h("div", { class: "field" }, h("label", { for: input.id }, label), input);
}
