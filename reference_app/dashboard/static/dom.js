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
