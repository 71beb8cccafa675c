/* Small behaviours the pages share, kept out of the HTML so the Content-Security-Policy
   can refuse inline scripts and style attributes:
   - data-confirm="question" on a form asks before submitting;
   - data-autosubmit on a select submits its form when it changes;
   - data-width="42" on an element sets its width to 42 % (bars in tables). */
(function () {
  document.addEventListener('submit', function (event) {
    var form = event.target;
    if (form.dataset && form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
      event.preventDefault();
    }
  }, true);
  document.addEventListener('change', function (event) {
    var el = event.target;
    if (el.dataset && el.dataset.autosubmit !== undefined && el.form) { el.form.submit(); }
  });
  function widths() {
    document.querySelectorAll('[data-width]').forEach(function (el) {
      var v = parseFloat(el.dataset.width);
      if (isFinite(v)) { el.style.width = Math.max(0, Math.min(100, v)) + '%'; }
    });
  }
  if (document.readyState === 'loading') { document.addEventListener('DOMContentLoaded', widths); } else { widths(); }
})();

// On a phone a table reads as stacked rows: each cell carries its column's name (set here once).
document.querySelectorAll('main table').forEach(function (table) {
  var heads = Array.prototype.map.call(table.querySelectorAll('thead th'), function (th) { return th.textContent.trim(); });
  if (!heads.length) return;
  table.querySelectorAll('tbody tr').forEach(function (tr) {
    Array.prototype.forEach.call(tr.children, function (td, n) {
      if (!td.hasAttribute('data-label') && heads[n]) td.setAttribute('data-label', heads[n]);
    });
  });
});
