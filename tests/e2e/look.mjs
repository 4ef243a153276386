// Opens the served app and saves a screenshot (a quick look while developing).
import { chromium } from "playwright-core";
const url = process.argv[2] ?? "http://127.0.0.1:8091/";
const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  headless: true,
  args: ["--headless=new", "--no-sandbox", "--enable-unsafe-webgpu", "--disable-dev-shm-usage"],
});
const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
page.on("console", (m) => console.log("console:", m.text()));
await page.goto(url);
await page.waitForTimeout(Number(process.argv[3] ?? 15000));
await page.screenshot({ path: process.argv[4] ?? "/tmp/look.png", fullPage: true });
await browser.close();
