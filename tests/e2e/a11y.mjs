// A page for everyone (issue 24): axe-core's checks and the keyboard's helpers, shared by the
// Chromium pass (playwright-core) and the Firefox pass (puppeteer-core): both drivers offer
// addScriptTag, evaluate with one argument, and keyboard.press/type.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const axeSource = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");
// WCAG 2.0, 2.1 and 2.2 at levels A and AA, and axe's best practices. No rule is switched off.
export const AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"];

// WCAG's contrast ratio of two CSS colours ("rgb(r, g, b)" or "rgba(…)", opaque assumed).
const luminance = (css) => {
  const [r, g, b] = css.match(/[\d.]+/g).slice(0, 3).map(Number).map((c) => {
    c /= 255;
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  });
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
};
export const contrast = (a, b) => {
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
  return (hi + 0.05) / (lo + 0.05);
};

export const a11y = {
  // Runs axe-core on the whole page and fails with every violation, its rule and its elements.
  // Each check's time span, injection included, is kept in window.__axeRuns (the long-task count
  // leaves out the tasks in them).
  async check(page, what) {
    // From before axe-core's 560 KB script is injected (parsing it is a long task of its own).
    const from = await page.evaluate(() => performance.now());
    if (!(await page.evaluate(() => typeof window.axe === "object"))) await page.addScriptTag({ content: axeSource });
    const violations = await page.evaluate(async ([tags, from]) => {
      const result = await window.axe.run(document, { runOnly: { type: "tag", values: tags }, resultTypes: ["violations"] });
      (window.__axeRuns ??= []).push([from, performance.now()]);
      return result.violations.map((v) => ({ rule: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => `${n.target.join(" ")}: ${n.failureSummary.replace(/\s+/g, " ")}`) }));
    }, [AXE_TAGS, from]);
    console.log(`e2e: axe-core (${AXE_TAGS.join(", ")}) on ${what}: ${violations.length === 0 ? "no violations" : violations.map((v) => `${v.rule} ×${v.nodes.length}`).join(", ")}`);
    assert.deepEqual(violations, [], `axe-core's violations on ${what}:\n${JSON.stringify(violations, null, 2)}`);
  },

  // What has the keyboard's focus: tag, test id, the label around it, its text.
  focused: (page) => page.evaluate(() => {
    const e = document.activeElement;
    return {
      tag: e.tagName.toLowerCase(),
      testid: e.dataset?.testid ?? "",
      label: e.closest("label")?.textContent.trim() ?? "",
      text: (e.innerText ?? "").trim().slice(0, 60),
      className: typeof e.className === "string" ? e.className : "",
      dataClass: e.dataset?.class ?? "",
    };
  }),

  // Presses Tab (Shift+Tab with back) until the focused element satisfies `wanted`, at most
  // `limit` times; fails with the path it took.
  async tabTo(page, wanted, { back = false, limit = 120, what = "the target" } = {}) {
    const path = [];
    for (let i = 0; i < limit; i++) {
      await page.keyboard.press(back ? "Shift+Tab" : "Tab");
      const f = await a11y.focused(page);
      path.push(f.testid || f.label || f.text || f.tag);
      if (wanted(f)) return f;
    }
    throw new Error(`${limit} × ${back ? "Shift+Tab" : "Tab"} never reached ${what}: ${path.join(" → ")}`);
  },

  // The focused element shows where the keyboard is: a solid outline of at least 2 px whose
  // colour has 3:1 contrast against the background behind it (WCAG 2.4.7, 1.4.11).
  async assertFocusVisible(page, what) {
    const ring = await page.evaluate(() => {
      const e = document.activeElement;
      const s = getComputedStyle(e);
      // The first opaque background behind the element's outline: its parents'.
      let bg = "rgb(255, 255, 255)";
      for (let p = e.parentElement; p; p = p.parentElement) {
        const c = getComputedStyle(p).backgroundColor;
        if (c && !c.startsWith("rgba(0, 0, 0, 0") && c !== "transparent") { bg = c; break; }
      }
      return { visible: e.matches(":focus-visible"), style: s.outlineStyle, width: parseFloat(s.outlineWidth), color: s.outlineColor, bg };
    });
    assert.ok(ring.visible && ring.style === "solid" && ring.width >= 2, `${what}: a visible focus outline (${JSON.stringify(ring)})`);
    assert.ok(contrast(ring.color, ring.bg) >= 3, `${what}: the focus outline ${ring.color} has ${contrast(ring.color, ring.bg).toFixed(2)}:1 against ${ring.bg}`);
    return ring;
  },
};
