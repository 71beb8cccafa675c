// The simulator's chart: each site a point, its effective rate against its average monthly revenue,
// one colour per scenario. Data comes from a JSON block on the page (no inline script).
(function () {
  var data = JSON.parse(document.getElementById('simulator-chart').textContent);
  var words = JSON.parse(document.getElementById('simulator-words').textContent);
  var colours = ['#64748b', '#dc2626', '#2563eb', '#16a34a', '#9333ea'];
  var datasets = data.scenarios.map(function (name, n) {
    return {label: name === 'current' ? words.current : name, data: data.points[name],
            backgroundColor: colours[n % colours.length], pointRadius: 3};
  });
  Object.keys(data.curves || {}).forEach(function (name, n) {
    datasets.push({label: name, data: data.curves[name], type: 'line', showLine: true, pointRadius: 0,
                   borderColor: colours[(n + 1) % colours.length], borderDash: [6, 3], borderWidth: 2, fill: false});
  });
  var canvas = document.getElementById('effective-rate');
  canvas.parentNode.style.height = window.innerWidth < 720 ? '260px' : '380px';
  new Chart(canvas, {
    type: 'scatter', data: {datasets: datasets},
    options: {maintainAspectRatio: false, scales: {
      x: {title: {display: true, text: words.x}}, y: {title: {display: true, text: words.y}}},
      plugins: {tooltip: {callbacks: {label: function (c) {
        return c.raw.site + ': ' + c.raw.y.toFixed(2) + '%'; }}}}}
  });
})();
