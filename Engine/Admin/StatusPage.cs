using System.Text;

namespace Engine.Admin;

/// <summary>
/// <c>GET /</c>: one self-contained page (inline CSS and script, no external asset, a CSP that
/// forbids any) that polls <c>/status.json</c> every 2 s and draws request rate, errors by CODE,
/// bytes and the nodes. The page holds no data: it asks for the admin token (or takes it from the
/// URL fragment <c>#token=…</c>, which browsers never send to the server) and keeps it in
/// sessionStorage.
/// </summary>
internal static class StatusPage
{
    private const string ContentSecurityPolicy =
        "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

    private static readonly byte[] Html = Encoding.UTF8.GetBytes(Text);

    public static AdminResponse Response() =>
        new AdminResponse(200, "text/html; charset=utf-8", Html)
            .With("Content-Security-Policy", ContentSecurityPolicy)
            .With("X-Frame-Options", "DENY")
            .With("Referrer-Policy", "no-referrer");

    private const string Text = """
        <!DOCTYPE html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>engine status</title>
        <style>
          :root { --bg:#0f1419; --panel:#1a2129; --fg:#d9e1e8; --dim:#8a98a6; --ok:#3fb950; --warn:#d29922; --bad:#f85149; --accent:#58a6ff; }
          * { box-sizing: border-box; }
          body { margin:0; font:14px/1.4 system-ui, sans-serif; background:var(--bg); color:var(--fg); }
          header { display:flex; align-items:center; gap:16px; padding:12px 20px; background:var(--panel); border-bottom:1px solid #2d3640; }
          header h1 { font-size:18px; margin:0; }
          #state { color:var(--dim); }
          #state.ok { color:var(--ok); } #state.bad { color:var(--bad); }
          main { padding:20px; display:grid; gap:16px; grid-template-columns:repeat(auto-fit, minmax(260px, 1fr)); }
          section { background:var(--panel); border:1px solid #2d3640; border-radius:6px; padding:14px; }
          section.wide { grid-column:1 / -1; }
          h2 { font-size:13px; text-transform:uppercase; letter-spacing:.05em; color:var(--dim); margin:0 0 8px; }
          .big { font-size:30px; font-weight:600; }
          .sub { color:var(--dim); }
          table { width:100%; border-collapse:collapse; font-variant-numeric:tabular-nums; }
          th, td { text-align:left; padding:4px 8px; border-bottom:1px solid #2d3640; }
          th { color:var(--dim); font-weight:500; }
          .pill { display:inline-block; padding:1px 8px; border-radius:10px; font-size:12px; }
          .available { background:#1f3d2a; color:var(--ok); } .ejected { background:#4a1f1f; color:var(--bad); }
          .draining { background:#4a3b12; color:var(--warn); } .removed { background:#2d3640; color:var(--dim); }
          .bar { height:8px; background:var(--accent); border-radius:4px; }
          form { display:flex; gap:8px; }
          form[hidden] { display:none; }
          #codes td:last-child { width:40%; }
          input { background:var(--bg); color:var(--fg); border:1px solid #2d3640; border-radius:4px; padding:4px 8px; }
          button { background:var(--accent); color:#000; border:0; border-radius:4px; padding:4px 12px; cursor:pointer; }
          #error { color:var(--bad); }
          #error:empty { display:none; }
        </style>
        </head>
        <body>
        <header>
          <h1>engine</h1>
          <span id="state">connecting…</span>
          <span id="error" role="alert"></span>
          <form id="login" hidden>
            <input type="text" name="username" value="admin" autocomplete="username" hidden>
            <input id="token" type="password" placeholder="admin token" autocomplete="current-password">
            <button type="submit">Open</button>
          </form>
        </header>
        <main>
          <section><h2>Requests / s</h2><div class="big" id="rate">–</div><div class="sub" id="totals"></div></section>
          <section><h2>Open connections</h2><div class="big" id="connections">–</div><div class="sub" id="degraded"></div></section>
          <section><h2>Bytes</h2><div class="big" id="throughput">–</div><div class="sub" id="bytes"></div></section>
          <section><h2>Nodes</h2><div class="big" id="health">–</div><div class="sub" id="health-detail"></div></section>
          <section class="wide"><h2>Outcomes by CODE</h2><table id="codes"><thead><tr><th>code</th><th>count</th><th>share</th><th></th></tr></thead><tbody></tbody></table></section>
          <section class="wide"><h2>Node list</h2><table id="nodes"><thead><tr><th>id</th><th>type</th><th>state</th><th>in flight</th><th>failures</th><th>ejections</th><th>domain bans</th><th>tags</th></tr></thead><tbody></tbody></table></section>
        </main>
        <script>
        "use strict";
        (function () {
          const $ = (id) => document.getElementById(id);
          const fromHash = new URLSearchParams(location.hash.slice(1)).get("token");
          if (fromHash) { sessionStorage.setItem("engine-admin-token", fromHash); history.replaceState(null, "", location.pathname); }
          let token = sessionStorage.getItem("engine-admin-token") || "";
          let previous = null;
          const fmtBytes = (n) => { const u = ["B", "KiB", "MiB", "GiB", "TiB"]; let i = 0; while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; } return n.toFixed(i ? 1 : 0) + " " + u[i]; };
          const fmt = (n) => Number(n).toLocaleString("en-US");
          const cell = (row, text, cls) => { const td = row.insertCell(); td.textContent = text; if (cls) td.className = cls; return td; };
          function nodeState(n) { return n.adminState !== "active" ? n.adminState : (n.available ? "available" : "ejected"); }
          function askToken(message) { $("login").hidden = false; $("state").textContent = message; $("state").className = "bad"; }
          $("login").addEventListener("submit", (e) => { e.preventDefault(); token = $("token").value; sessionStorage.setItem("engine-admin-token", token); $("login").hidden = true; refresh(); });
          function draw(s) {
            const now = Date.parse(s.time);
            if (previous) {
              const dt = Math.max(0.001, (now - previous.t) / 1000);
              $("rate").textContent = ((s.requests + s.tunnels - previous.n) / dt).toFixed(1);
              $("throughput").textContent = fmtBytes((s.bytesIn + s.bytesOut - previous.b) / dt) + "/s";
            } else { $("rate").textContent = "0.0"; $("throughput").textContent = "0 B/s"; }
            previous = { t: now, n: s.requests + s.tunnels, b: s.bytesIn + s.bytesOut };
            $("totals").textContent = fmt(s.requests) + " requests, " + fmt(s.tunnels) + " tunnels";
            $("connections").textContent = fmt(s.openConnections);
            $("degraded").textContent = s.stateDegraded ? "state store degraded (serving from local state)" : "state store ok";
            $("bytes").textContent = "in " + fmtBytes(s.bytesIn) + " · out " + fmtBytes(s.bytesOut);
            const counts = { available: 0, ejected: 0, draining: 0, removed: 0 };
            s.nodes.forEach((n) => counts[nodeState(n)]++);
            $("health").textContent = counts.available + " / " + s.nodes.length;
            $("health-detail").textContent = "available · " + counts.ejected + " ejected · " + counts.draining + " draining · " + counts.removed + " removed";
            const total = Object.values(s.codes).reduce((a, b) => a + b, 0) || 1;
            const codes = $("codes").tBodies[0]; codes.replaceChildren();
            Object.entries(s.codes).sort((a, b) => b[1] - a[1]).forEach(([code, n]) => {
              const row = codes.insertRow(); row.dataset.code = code;
              cell(row, code); cell(row, fmt(n)); cell(row, (100 * n / total).toFixed(1) + "%");
              const bar = document.createElement("div"); bar.className = "bar"; bar.style.width = Math.max(1, 100 * n / total) + "%"; row.insertCell().append(bar);
            });
            const nodes = $("nodes").tBodies[0]; nodes.replaceChildren();
            s.nodes.forEach((n) => {
              const row = nodes.insertRow(); row.dataset.node = n.id;
              cell(row, n.id); cell(row, n.type);
              const state = nodeState(n); const pill = document.createElement("span"); pill.className = "pill " + state; pill.textContent = state; row.insertCell().append(pill);
              cell(row, fmt(n.inFlight)); cell(row, fmt(n.consecutiveFailures)); cell(row, fmt(n.ejections)); cell(row, fmt(n.domainBans));
              cell(row, Object.entries(n.tags).map(([k, v]) => k + "=" + v).join(" "));
            });
            $("state").textContent = "live · " + new Date(now).toLocaleTimeString("en-GB"); $("state").className = "ok";
          }
          async function refresh() {
            if (!token) { askToken("token needed"); return; }
            try {
              const r = await fetch("status.json", { headers: { Authorization: "Bearer " + token }, cache: "no-store" });
              if (r.status === 401) { askToken("wrong token"); return; }
              if (!r.ok) { const p = await r.json().catch(() => ({})); $("error").textContent = (p.code || r.status) + ": " + (p.detail || r.statusText); return; }
              $("error").textContent = "";
              draw(await r.json());
            } catch (e) { $("error").textContent = "unreachable: " + e.message; $("state").className = "bad"; }
          }
          refresh();
          setInterval(() => { if ($("login").hidden) refresh(); }, 2000);
        })();
        </script>
        </body>
        </html>
        """;
}
