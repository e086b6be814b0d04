/* The portfolio keeps its view in the address (pages/portfolio.py): search, health filter,
   order and page, so that a shared link reopens the same view; a new page of cards scrolls
   back to the top of the grid. The view itself is worked out on the server. */
window.dash_clientside = Object.assign({}, window.dash_clientside);
window.dash_clientside.modeldeck = Object.assign({}, window.dash_clientside.modeldeck, {
  portfolioAddress: function (search, health, sort, page) {
    const params = new URLSearchParams(window.location.search);
    const set = (key, value, dflt) => {
      if (value && String(value) !== dflt) { params.set(key, value); } else { params.delete(key); }
    };
    set('q', String(search || '').trim(), '');
    set('health', health, 'all');
    set('sort', sort, 'name');
    set('page', page, '1');
    const query = params.toString();
    const address = window.location.pathname + (query ? '?' + query : '');
    if (address !== window.location.pathname + window.location.search) {
      window.history.replaceState(null, '', address);
    }
    // another page of cards: back to the top of the grid (not on the first view)
    const grid = document.getElementById('portfolio-controls');
    const previous = window.__portfolioGrid === grid ? window.__portfolioPage : undefined;
    window.__portfolioGrid = grid;
    window.__portfolioPage = page;
    if (previous !== undefined && previous !== page && grid) {
      grid.scrollIntoView({block: 'start'});
    }
    return query;
  },
});
