/* The portfolio's search, health filter and order, in the browser (pages/portfolio.py).
   What each card shows is read from the page: its search text and name (its column's
   data-search, data-name), its health (the card's status-… class), its date (data-updated)
   and the money at stake of its recommendation (data-money), the last two once filled in.
   Each column then gets a style: hidden, or its place in the chosen order (CSS `order` in
   the flex row, so no card is drawn again or loses what it has filled in). */
window.dash_clientside = Object.assign({}, window.dash_clientside);
window.dash_clientside.modeldeck = Object.assign({}, window.dash_clientside.modeldeck, {
  portfolioView: function (search, health, sort, _tick, ids, words) {
    const rank = {act: 0, error: 1, watch: 2, pending: 3, ok: 4};
    const rows = (ids || []).map(function (id, i) {
      const col = document.getElementById(JSON.stringify({model: id.model, type: id.type}));
      const card = col && col.querySelector('.model-card');
      const status = card ? (card.className.match(/status-(\w+)/) || [])[1] : 'pending';
      const dated = col && col.querySelector('[data-updated]');
      const money = col && col.querySelector('[data-money]');
      return {
        i: i, status: status || 'pending',
        name: col ? col.dataset.name || '' : '', text: col ? col.dataset.search || '' : '',
        updated: dated ? dated.dataset.updated : '',
        money: money ? parseFloat(money.dataset.money) : null,
        advised: !!(col && !col.querySelector('.advice-pending')),
      };
    });
    const byName = (a, b) => a.name.localeCompare(b.name);
    const orders = {
      name: byName,
      attention: (a, b) => ((rank[a.status] ?? 5) - (rank[b.status] ?? 5)) || byName(a, b),
      money: (a, b) => ((b.money ?? -1) - (a.money ?? -1)) || byName(a, b),
      updated: (a, b) => String(b.updated).localeCompare(String(a.updated)) || byName(a, b),
    };
    const terms = String(search || '').toLowerCase().split(/\s+/).filter(Boolean);
    const everyHealth = !health || health === 'all';
    const keep = rows.filter(r => (everyHealth || r.status === health)
      && terms.every(t => r.text.includes(t)));
    keep.sort(orders[sort] || byName);
    const styles = rows.map(() => ({display: 'none'}));
    keep.forEach((r, k) => { styles[r.i] = {order: k}; });

    const counts = {};
    rows.forEach(r => { counts[r.status] = (counts[r.status] || 0) + 1; });
    const parts = Object.keys(words || {}).filter(k => counts[k])
      .map(k => counts[k] + ' ' + words[k]);
    let healthText = parts.length ? 'Health: ' + parts.join(', ') + '.' : '';
    if (counts.pending) {
      healthText += (healthText ? ' ' : '') + counts.pending + ' still being checked.';
    }
    let shown = '';
    if (terms.length || !everyHealth) {
      shown = keep.length ? 'Showing ' + keep.length + ' of ' + rows.length + ' models.'
        : 'No model matches this search and filter.';
    }

    const params = new URLSearchParams(window.location.search);
    const set = (key, value, dflt) => {
      if (value && value !== dflt) { params.set(key, value); } else { params.delete(key); }
    };
    set('q', String(search || '').trim(), '');
    set('health', health, 'all');
    set('sort', sort, 'name');
    const query = params.toString();
    const address = window.location.pathname + (query ? '?' + query : '');
    if (address !== window.location.pathname + window.location.search) {
      window.history.replaceState(null, '', address);
    }
    const settled = rows.every(r => r.status !== 'pending' && r.advised);
    return [styles, shown, healthText, settled];
  },
});
