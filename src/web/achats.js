// maillage: the purchase request form. The totals of each line and of the
// request (HT, TVA, TTC) follow what is typed, computed as the node computes
// them: amounts in cents, quantity × unit price, the TVA of each line
// rounded to the cent (half away from zero), TTC = HT + TVA. Lines are added
// and removed in the page. Without JavaScript the form's buttons do the same
// on the node, which computes the totals again on save in any case.
(function () {
  "use strict";
  var form = document.querySelector("form.purchase-form");
  if (!form || !window.BigInt) return;
  var body = form.querySelector("#lignes tbody");

  // "1 234,50 €" → 123450n (cents), or null when unreadable.
  function cents(text, percent) {
    var t = String(text).replace(/[\s\u00a0\u202f€%]/g, "").replace(",", ".");
    var m = /^(\d+)(?:\.(\d{0,2}))?$/.exec(t);
    if (!m) return null;
    var frac = (m[2] || "");
    while (frac.length < 2) frac += "0";
    return BigInt(m[1]) * 100n + BigInt(frac);
  }

  function quantity(text) {
    var t = String(text).replace(/[\s\u00a0\u202f]/g, "");
    if (!/^\d+$/.test(t)) return null;
    var q = BigInt(t);
    return q >= 1n && q <= 10000n ? q : null;
  }

  // 123450n → "1 234,50 €", as the node writes amounts.
  function euros(c) {
    var neg = c < 0n;
    if (neg) c = -c;
    var units = (c / 100n).toString();
    var rest = (c % 100n).toString();
    if (rest.length < 2) rest = "0" + rest;
    var grouped = "";
    for (var i = 0; i < units.length; i++) {
      if (i > 0 && (units.length - i) % 3 === 0) grouped += "\u202f";
      grouped += units[i];
    }
    return (neg ? "-" : "") + grouped + "," + rest + " €";
  }

  function field(row, name) {
    return row.querySelector("[name^='" + name + "-']");
  }

  function blank(row) {
    return !field(row, "designation").value.trim() &&
      !field(row, "quantite").value.trim() && !field(row, "prix").value.trim();
  }

  function show(row, what, value) {
    var out = row.querySelector("output[data-total='" + what + "']");
    if (out) out.textContent = value === null ? "—" : euros(value);
  }

  function recompute() {
    var sum = { ht: 0n, vat: 0n, ttc: 0n };
    var rows = body.querySelectorAll("tr.line");
    for (var i = 0; i < rows.length; i++) {
      var row = rows[i];
      var q = quantity(field(row, "quantite").value);
      var price = cents(field(row, "prix").value);
      // The rate in hundredths of a percent: "5,5" → 550n.
      var rate = cents(field(row, "tva").value);
      if (blank(row) || q === null || price === null || rate === null || rate > 10000n) {
        show(row, "ht", null); show(row, "vat", null); show(row, "ttc", null);
        continue;
      }
      var ht = q * price;
      // ht (cents) × rate (1/100 %) / 10000, rounded half away from zero.
      var vat = (ht * rate + 5000n) / 10000n;
      show(row, "ht", ht); show(row, "vat", vat); show(row, "ttc", ht + vat);
      sum.ht += ht; sum.vat += vat; sum.ttc += ht + vat;
    }
    document.getElementById("total-ht").textContent = euros(sum.ht);
    document.getElementById("total-tva").textContent = euros(sum.vat);
    document.getElementById("total-ttc").textContent = euros(sum.ttc);
  }

  // Rows are numbered from 0 in their fields' names and ids, from 1 for people.
  function renumber() {
    var rows = body.querySelectorAll("tr.line");
    for (var i = 0; i < rows.length; i++) {
      var row = rows[i];
      row.setAttribute("data-line", String(i));
      var named = row.querySelectorAll("[id]");
      for (var j = 0; j < named.length; j++) {
        named[j].id = named[j].id.replace(/-\d+$/, "-" + i);
        if (named[j].name) named[j].name = named[j].name.replace(/-\d+$/, "-" + i);
      }
      var labels = row.querySelectorAll("label");
      for (var k = 0; k < labels.length; k++) {
        var l = labels[k];
        l.htmlFor = l.htmlFor.replace(/-\d+$/, "-" + i);
        l.textContent = l.textContent.replace(/\(ligne \d+\)/, "(ligne " + (i + 1) + ")");
      }
      var remove = row.querySelector("button.remove");
      remove.value = "retirer-" + i;
      remove.setAttribute("aria-label", "Retirer la ligne " + (i + 1));
    }
  }

  form.addEventListener("input", recompute);
  form.addEventListener("click", function (e) {
    var b = e.target.closest ? e.target.closest("button") : null;
    if (!b) return;
    if (b.value === "ajouter") {
      e.preventDefault();
      var rows = body.querySelectorAll("tr.line");
      if (rows.length >= 100) return;
      var row = rows[rows.length - 1].cloneNode(true);
      row.classList.remove("row-error");
      var inputs = row.querySelectorAll("input");
      for (var i = 0; i < inputs.length; i++) {
        inputs[i].value = inputs[i].name.indexOf("tva-") === 0 ? "20" : "";
        inputs[i].removeAttribute("aria-invalid");
      }
      var err = row.querySelector(".field-error");
      if (err) err.remove();
      body.appendChild(row);
      renumber();
      recompute();
      row.querySelector("input").focus();
    } else if (b.value.indexOf("retirer-") === 0) {
      e.preventDefault();
      var all = body.querySelectorAll("tr.line");
      var mine = b.closest("tr.line");
      if (all.length > 1) {
        mine.remove();
      } else {
        var fields = mine.querySelectorAll("input");
        for (var j = 0; j < fields.length; j++) {
          fields[j].value = fields[j].name.indexOf("tva-") === 0 ? "20" : "";
        }
      }
      renumber();
      recompute();
      var first = body.querySelector("tr.line input");
      if (first) first.focus();
    }
  });
  recompute();
})();
