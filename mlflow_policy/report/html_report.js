// The html report's page script (mlflow_policy/report/html.py inlines it, allowed by the
// page's CSP through its hash). It reads the JSON blob of #report-data and builds every
// element with createElement/textContent: no string from the data is ever parsed as markup.
(function () {
  "use strict";
  var D = JSON.parse(document.getElementById("report-data").textContent);
  var STATES = [
    // [cell character, name, glyph, what it means]
    ["f", "fail", "\u2717", "an unwaived finding"],
    ["w", "waived", "W", "findings, every one waived"],
    ["e", "error", "!", "the rule raised: not evaluated"],
    ["u", "unreachable", "\u2298", "the host could not be gathered"],
    ["s", "skipped", "\u2013", "a fact the rule needs is unavailable in this mode"],
    ["p", "pass", "", "the rule holds on this host"]
  ];
  var NAME = {".": "not selected"};
  var GLYPH = {".": ""};
  STATES.forEach(function (s) { NAME[s[0]] = s[1]; GLYPH[s[0]] = s[2]; });
  var FAILING = {f: true, e: true, u: true};
  // Rows drawn at once: a page of a big fleet stays quick to lay out (the counts above the
  // matrix always cover every host the filters keep, on every page).
  var PAGE = 250;
  var SEVERITIES = ["error", "warning", "info"];

  // Control characters and bidi overrides are shown as escapes, so a host name cannot
  // reorder or hide the text around it.
  var UNSEEN = /[\u0000-\u001f\u007f-\u009f\u00ad\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/g;
  function show(text) {
    if (text === null || text === undefined) { return ""; }
    return String(text).replace(UNSEEN, function (c) {
      return "\\u" + ("000" + c.charCodeAt(0).toString(16)).slice(-4);
    });
  }

  // el("div", {className: "x", id: "y"}, child, "text", ...): properties, never markup
  function el(tag, props) {
    var node = document.createElement(tag);
    if (props) {
      Object.keys(props).forEach(function (k) {
        if (k === "data") {
          Object.keys(props.data).forEach(function (d) { node.dataset[d] = props.data[d]; });
        } else if (k === "title") {
          node.title = show(props.title);
        } else {
          node[k] = props[k];
        }
      });
    }
    for (var i = 2; i < arguments.length; i++) {
      var child = arguments[i];
      if (child === null || child === undefined || child === false) { continue; }
      node.appendChild(typeof child === "object" ? child : document.createTextNode(show(child)));
    }
    return node;
  }

  var rules = D.rules;
  var hosts = D.hosts;
  var cells = D.cells;
  var ruleIndex = {};
  rules.forEach(function (r, i) { ruleIndex[r.id] = i; });
  var hostIndex = {};
  hosts.forEach(function (h, i) { hostIndex[h.inv + "\u0000" + h.name] = i; });
  // findings of each cell, "row,col" -> [finding]; findings about the run itself apart
  var byCell = {};
  var runFindings = [];
  D.findings.forEach(function (f) {
    var r = f.host === null ? undefined : hostIndex[(f.inv || "") + "\u0000" + f.host];
    var c = ruleIndex[f.rule];
    if (r === undefined || c === undefined) { runFindings.push(f); return; }
    (byCell[r + "," + c] = byCell[r + "," + c] || []).push(f);
  });
  var skipReason = {};
  D.skips.forEach(function (s) { skipReason[s[0] + "," + s[1]] = D.reasons[s[2]]; });

  var inventories = [];
  var groups = [];
  hosts.forEach(function (h) {
    if (inventories.indexOf(h.inv) < 0) { inventories.push(h.inv); }
    h.groups.forEach(function (g) { if (groups.indexOf(g) < 0) { groups.push(g); } });
  });
  inventories.sort();
  groups.sort();

  // ------------------------------------------------------------------ the page's frame
  var app = document.getElementById("app");
  var S = D.summary;
  var failed = D.exit_code !== 0;
  app.appendChild(el("header", {className: "top"},
    el("h1", null, "mlflow-policy ",
      el("span", {className: "verdict " + (failed ? "bad" : "good"), id: "verdict"},
        failed ? "FAILED" : "passed")),
    el("p", {className: "meta"},
      D.mode + " mode \u00b7 inventories: " + (D.inventories.join(", ") || "none") +
      " \u00b7 --fail-on " + D.fail_on + " \u00b7 " + D.tool.name + " " + D.tool.version +
      (D.generated_at ? " \u00b7 " + D.generated_at : ""))));

  var tiles = [
    ["error", "errors", S.findings.error, "bad"],
    ["warning", "warnings", S.findings.warning, "warn"],
    ["info", "info", S.findings.info, "info"],
    ["waived", "waived", S.waived, ""],
    ["skipped", "skipped", S.skipped, ""],
    ["hosts", "hosts", S.hosts, ""],
    ["rules", "rules", S.rules, ""],
    ["unmatched", "unmatched rules", S.unmatched_rules.length, ""]
  ];
  if (S.diff) {
    tiles.push(["new", "new since " + S.diff.base, S.diff["new"], ""]);
    tiles.push(["fixed", "fixed", S.diff.fixed, ""]);
  }
  app.appendChild(el("section", {className: "tiles", id: "summary"},
    tiles.map(function (t) {
      return el("div", {className: "tile " + (t[2] ? t[3] : ""), data: {count: t[0]}},
        el("span", {className: "n", id: "count-" + t[0]}, String(t[2])),
        el("span", {className: "what"}, t[1]));
    }).reduce(function (frag, node) { frag.appendChild(node); return frag; },
      document.createDocumentFragment())));

  function select(id, label, all, values) {
    var s = el("select", {id: id});
    s.appendChild(el("option", {value: ""}, all));
    values.forEach(function (v) { s.appendChild(el("option", {value: v}, v)); });
    return el("label", null, label + " ", s);
  }
  var ruleBox = el("input", {id: "filter-rule", type: "search", placeholder: "part of a rule id",
    autocomplete: "off", spellcheck: false});
  var failingBox = el("input", {id: "filter-failing", type: "checkbox"});
  var controls = el("section", {className: "controls", id: "filters"},
    select("filter-inventory", "Inventory", "all inventories", inventories),
    select("filter-group", "Group", "all groups", groups),
    select("filter-severity", "Severity", "all severities", SEVERITIES),
    el("label", null, "Rule ", ruleBox),
    el("label", {className: "check"}, failingBox, " failing only"),
    el("button", {id: "filter-reset", type: "button"}, "reset"));
  app.appendChild(controls);
  var invSel = document.getElementById("filter-inventory");
  var groupSel = document.getElementById("filter-group");
  var sevSel = document.getElementById("filter-severity");

  var legend = el("section", {className: "legend", id: "shown"},
    el("span", null, "Showing ", el("b", {id: "shown-hosts"}, "0"), " of " + hosts.length +
      " hosts \u00d7 ", el("b", {id: "shown-rules"}, "0"), " of " + rules.length + " rules: "));
  STATES.forEach(function (s) {
    legend.appendChild(el("span", {className: "key", title: s[3]},
      el("i", {className: "cell s-" + s[0]}, s[2]), " " + s[1] + " ",
      el("b", {id: "shown-" + s[1]}, "0")));
  });
  legend.appendChild(el("span", {className: "key", title: "the rule does not select this host"},
    el("i", {className: "cell s-."}), " not selected"));
  app.appendChild(legend);

  var pageAt = 0;
  var pager = el("nav", {id: "pager", className: "pager", hidden: true},
    el("button", {id: "pager-prev", type: "button"}, "\u2039 previous"),
    el("span", {id: "pager-info"}),
    el("button", {id: "pager-next", type: "button"}, "next \u203a"));
  app.appendChild(pager);
  var table = el("table", {id: "matrix", className: "matrix"});
  var wrap = el("div", {className: "matrix-wrap"}, table);
  app.appendChild(wrap);
  var empty = el("p", {id: "matrix-empty", className: "empty", hidden: true},
    "No host and rule match these filters.");
  app.appendChild(empty);

  var detail = el("aside", {id: "detail", className: "detail", hidden: true});
  document.body.appendChild(detail);

  if (runFindings.length) {
    var list = el("div", {className: "findings"});
    runFindings.forEach(function (f) { list.appendChild(findingCard(f)); });
    app.appendChild(el("section", {id: "run-findings"},
      el("h2", null, "Findings about the run (" + runFindings.length + ")"), list));
  }
  if (S.unmatched_rules.length) {
    var ul = el("ul", {id: "unmatched"});
    S.unmatched_rules.forEach(function (r) { ul.appendChild(el("li", null, el("code", null, r))); });
    app.appendChild(el("section", null,
      el("h2", null, "Rules that selected no host (" + S.unmatched_rules.length + ")"), ul));
  }
  app.appendChild(el("footer", null, "Self-contained report: no network, no external " +
    "assets. The same run as text: mlflow-policy check --format text."));

  // ------------------------------------------------------------------ filtering
  function state() {
    return {
      inv: invSel.value, group: groupSel.value, sev: sevSel.value,
      rule: ruleBox.value.trim().toLowerCase(), failing: failingBox.checked
    };
  }

  function visible(st) {
    var rows = [];
    var cols = [];
    hosts.forEach(function (h, i) {
      if (st.inv && h.inv !== st.inv) { return; }
      if (st.group && h.groups.indexOf(st.group) < 0) { return; }
      rows.push(i);
    });
    rules.forEach(function (r, i) {
      if (st.sev && r.sev.indexOf(st.sev) < 0) { return; }
      if (st.rule && r.id.toLowerCase().indexOf(st.rule) < 0) { return; }
      cols.push(i);
    });
    if (st.failing) {
      cols = cols.filter(function (c) {
        return rows.some(function (r) { return FAILING[cells[r][c]]; });
      });
      rows = rows.filter(function (r) {
        return cols.some(function (c) { return FAILING[cells[r][c]]; });
      });
    }
    return {rows: rows, cols: cols};
  }

  function localName(id) {
    var slash = id.lastIndexOf("/");
    return slash < 0 ? id : id.slice(slash + 1);
  }

  var shownCols = [];
  function draw() {
    var st = state();
    var v = visible(st);
    shownCols = v.cols;
    var counts = {};
    STATES.forEach(function (s) { counts[s[0]] = 0; });
    v.rows.forEach(function (r) {
      var line = cells[r];
      for (var k = 0; k < v.cols.length; k++) {
        var ch = line.charAt(v.cols[k]);
        if (counts[ch] !== undefined) { counts[ch] += 1; }
      }
    });
    var pages = Math.max(1, Math.ceil(v.rows.length / PAGE));
    pageAt = Math.min(Math.max(pageAt, 0), pages - 1);
    var first = pageAt * PAGE;
    var rows = v.rows.slice(first, first + PAGE);
    pager.hidden = pages < 2;
    document.getElementById("pager-info").textContent = " hosts " + (rows.length ? first + 1 : 0) +
      "\u2013" + (first + rows.length) + " of " + v.rows.length + " (page " + (pageAt + 1) +
      " of " + pages + ") ";
    document.getElementById("pager-prev").disabled = pageAt === 0;
    document.getElementById("pager-next").disabled = pageAt >= pages - 1;
    var thead = el("thead");
    var head = el("tr", null, el("th", {className: "corner"}, "host \\ rule"));
    v.cols.forEach(function (c) {
      var r = rules[c];
      head.appendChild(el("th", {className: "rule sev-" + r.sev[0], scope: "col",
        title: r.id + (r.title ? ": " + r.title : ""), data: {col: String(c), rule: r.id}},
        el("span", null, localName(r.id))));
    });
    thead.appendChild(head);
    var tbody = el("tbody");
    rows.forEach(function (r) {
      var h = hosts[r];
      var tr = el("tr", {data: {row: String(r), inv: h.inv, host: h.name},
        className: h.down ? "down" : ""});
      tr.appendChild(el("th", {className: "host", scope: "row",
        title: h.inv + "/" + h.name + (h.groups.length ? " \u00b7 groups: " + h.groups.join(", ") : "")},
        el("span", {className: "inv"}, h.inv), " ", h.name));
      var line = cells[r];
      for (var k = 0; k < v.cols.length; k++) {
        var ch = line.charAt(v.cols[k]);
        var td = document.createElement("td");
        td.className = "cell s-" + ch;
        if (GLYPH[ch]) { td.textContent = GLYPH[ch]; }
        tr.appendChild(td);
      }
      tbody.appendChild(tr);
    });
    table.replaceChildren(thead, tbody);
    empty.hidden = v.rows.length > 0 && v.cols.length > 0;
    document.getElementById("shown-hosts").textContent = String(v.rows.length);
    document.getElementById("shown-rules").textContent = String(v.cols.length);
    STATES.forEach(function (s) {
      document.getElementById("shown-" + s[1]).textContent = String(counts[s[0]]);
    });
    saveHash(st);
  }

  // The filters live in the URL's fragment, so a filtered view can be bookmarked or sent
  // (it works from file:// too: nothing is loaded).
  function saveHash(st) {
    var p = new URLSearchParams();
    if (st.inv) { p.set("inventory", st.inv); }
    if (st.group) { p.set("group", st.group); }
    if (st.sev) { p.set("severity", st.sev); }
    if (ruleBox.value.trim()) { p.set("rule", ruleBox.value.trim()); }
    if (st.failing) { p.set("failing", "1"); }
    if (pageAt > 0) { p.set("page", String(pageAt + 1)); }
    var text = p.toString();
    if (decodeURIComponent(location.hash.slice(1)) !== decodeURIComponent(text)) {
      history.replaceState(null, "", text ? "#" + text : location.pathname + location.search);
    }
  }

  function pick(sel, value) {
    var ok = Array.prototype.some.call(sel.options, function (o) { return o.value === value; });
    sel.value = ok ? value : "";
  }

  function loadHash() {
    var p = new URLSearchParams(location.hash.slice(1));
    pick(invSel, p.get("inventory") || "");
    pick(groupSel, p.get("group") || "");
    pick(sevSel, p.get("severity") || "");
    ruleBox.value = p.get("rule") || "";
    failingBox.checked = p.get("failing") === "1";
    pageAt = (parseInt(p.get("page") || "1", 10) || 1) - 1;
  }

  function refilter() { pageAt = 0; draw(); }
  [invSel, groupSel, sevSel, failingBox].forEach(function (c) {
    c.addEventListener("change", refilter);
  });
  ruleBox.addEventListener("input", refilter);
  document.getElementById("filter-reset").addEventListener("click", function () {
    invSel.value = groupSel.value = sevSel.value = ruleBox.value = "";
    failingBox.checked = false;
    refilter();
  });
  document.getElementById("pager-prev").addEventListener("click", function () {
    pageAt -= 1; close(); draw();
  });
  document.getElementById("pager-next").addEventListener("click", function () {
    pageAt += 1; close(); draw();
  });
  window.addEventListener("hashchange", function () { loadHash(); draw(); });

  // ------------------------------------------------------------------ a cell's findings
  function value(label, text, cls) {
    return [el("dt", null, label), el("dd", {className: cls || ""}, el("code", null, text))];
  }

  function side(label, s) {
    if (!s) { return el("td", null, "\u2014"); }
    return el("td", {className: "side " + s.state, title: s.from ? "from " + s.from : ""},
      s.state === "value" ? el("code", null, s.text) : el("em", null, s.text),
      s.from ? el("div", {className: "from"}, s.from) : null);
  }

  function findingCard(f) {
    var card = el("article", {className: "finding sev-" + f.sev + (f.waived ? " waived" : "")},
      el("header", null,
        el("span", {className: "sev"}, f.sev),
        " ",
        f.loc ? el("code", {className: "loc", title: f.loc + ":" + f.col}, f.loc) :
          el("span", {className: "loc none"}, "(no location)"),
        " ",
        el("code", {className: "rule-id"}, f.rule)),
      el("p", {className: "msg"}, f.msg));
    var dl = el("dl");
    var rows = [];
    if (f.fact !== null) { rows = rows.concat(value("fact", f.fact, "fact")); }
    if (f.exp !== null) { rows = rows.concat(value("expected", f.exp, "expected")); }
    if (f.act !== null) { rows = rows.concat(value("actual", f.act, "actual")); }
    rows.forEach(function (n) { dl.appendChild(n); });
    if (rows.length) { card.appendChild(dl); }
    if (f.declared || f.observed) {
      card.appendChild(el("table", {className: "sides"},
        el("thead", null, el("tr", null, el("th", null, "declared (inventory)"),
          el("th", null, "observed (host)"))),
        el("tbody", null, el("tr", null, side("declared", f.declared),
          side("observed", f.observed)))));
    }
    if (f.waived) { card.appendChild(el("p", {className: "waiver"}, f.waived)); }
    return card;
  }

  function ruleBlock(r) {
    var box = el("div", {className: "rule-info"},
      el("h3", null, r.title || r.id),
      el("p", null, el("code", null, r.id), " \u00b7 " + r.sev.join("/") +
        (r.where ? " \u00b7 " : ""), r.where ? el("code", null, r.where) : null));
    if (r.description) { box.appendChild(el("p", {className: "desc"}, r.description)); }
    if (r.hint) { box.appendChild(el("p", {className: "hint"}, "Remediation: " + r.hint)); }
    if (r.references.length) {
      var ul = el("ul", {className: "refs"});
      r.references.forEach(function (ref) {
        // a link only for a plain web address; anything else (javascript:...) is text
        var link = /^https?:\/\/[^\s]+$/i.test(ref);
        ul.appendChild(el("li", null, link ? el("a", {href: ref, rel: "noopener noreferrer",
          target: "_blank"}, ref) : ref));
      });
      box.appendChild(ul);
    }
    return box;
  }

  var selected = null;
  function close() {
    detail.hidden = true;
    detail.replaceChildren();
    if (selected) { selected.classList.remove("sel"); selected = null; }
  }

  function open(parts, node) {
    if (selected) { selected.classList.remove("sel"); }
    selected = node;
    if (node) { node.classList.add("sel"); }
    detail.replaceChildren(el("button", {type: "button", className: "close", id: "detail-close",
      title: "close (Esc)"}, "\u00d7"));
    parts.forEach(function (p) { if (p) { detail.appendChild(p); } });
    detail.hidden = false;
    detail.scrollTop = 0;
    document.getElementById("detail-close").addEventListener("click", close);
  }

  function openCell(r, c, td) {
    var h = hosts[r];
    var rule = rules[c];
    var ch = cells[r].charAt(c);
    var found = byCell[r + "," + c] || [];
    var parts = [
      el("h2", null, h.name, el("span", {className: "sub"}, " " + h.inv)),
      el("p", {className: "state", id: "detail-state"},
        el("i", {className: "cell s-" + ch}, GLYPH[ch] || ""), " " + NAME[ch])
    ];
    if (ch === "s" || ch === "u") {
      parts.push(el("p", {className: "reason"}, "Why: " + (skipReason[r + "," + c] || "")));
    }
    if (h.down) { parts.push(el("p", {className: "reason"}, "Host not gathered: " + h.down)); }
    if (ch === "e" && rule.error) { parts.push(el("p", {className: "reason"}, rule.error)); }
    var list = el("div", {className: "findings", id: "detail-findings"});
    found.forEach(function (f) { list.appendChild(findingCard(f)); });
    parts.push(list);
    parts.push(ruleBlock(rule));
    open(parts, td);
  }

  function openHost(r, th) {
    var h = hosts[r];
    var list = el("div", {className: "findings", id: "detail-findings"});
    shownCols.forEach(function (c) {
      (byCell[r + "," + c] || []).forEach(function (f) { list.appendChild(findingCard(f)); });
    });
    open([el("h2", null, h.name, el("span", {className: "sub"}, " " + h.inv)),
      el("p", {className: "groups"}, "groups: " + (h.groups.join(", ") || "none")),
      h.down ? el("p", {className: "reason"}, "Host not gathered: " + h.down) : null,
      list.childNodes.length ? list : el("p", null, "No finding in the rules shown.")], th);
  }

  table.addEventListener("click", function (ev) {
    var target = ev.target instanceof Element ? ev.target : null;
    var td = target && target.closest("td.cell");
    var tr = target && target.closest("tr");
    if (td && tr && tr.dataset.row !== undefined) {
      openCell(Number(tr.dataset.row), shownCols[td.cellIndex - 1], td);
      return;
    }
    var th = target && target.closest("th.host");
    if (th && tr) { openHost(Number(tr.dataset.row), th); return; }
    var rh = target && target.closest("th.rule");
    if (rh) {
      var r = rules[Number(rh.dataset.col)];
      open([el("h2", null, localName(r.id)), ruleBlock(r)], null);
    }
  });
  document.addEventListener("keydown", function (ev) {
    if (ev.key === "Escape" && !detail.hidden) { close(); }
  });

  loadHash();
  draw();
  document.body.dataset.ready = "1";  // for tests and scripts: the page is drawn
})();
