/* Fit a map figure to the screen it is drawn on, as it is drawn.

   The server draws a map without knowing the screen: a wall of 7680×2160 and a phone of 390 px get the
   same figure. Its layout.meta.fit carries the bounds of what it shows ([west, south, east, north], in the
   map's datum); here the zoom and centre are set so that those bounds fill the element the map has, by
   the same rule as dashboards/figures.py (_zoom). On a wall (meta.screen == "wall") the map's type
   (meta.type) grows with the screen; on a narrow screen the legend moves under the map. A map the person
   has panned keeps their view: plotly keeps it through uirevision.

   It is done inside Plotly.react, which dcc.Graph draws every figure with, so that MapLibre draws each
   figure once, already fitted (fitting it afterwards, as a second figure, drew the map twice on a first
   visit). The wrapper is put on window.Plotly when the plotly bundle defines it: Dash loads the assets
   in name order, this file first. */
(function () {
  const WALL = [1920, 1080];  // the screen the wall's type is sized for
  const NARROW = 600;  // px: a phone

  function laidOut(element, tries) {
    // A page's first figure comes with its layout, before the browser has given the map its size.
    return new Promise(function (resolve) {
      if ((element.clientWidth > 0 && element.clientHeight > 0) || tries <= 0) {
        resolve(element);
      } else {
        window.requestAnimationFrame(function () { laidOut(element, tries - 1).then(resolve); });
      }
    });
  }

  function withFont(part, size) {
    return Object.assign({}, part, {font: Object.assign({}, part && part.font, {size: size})});
  }

  function fitZoom(bounds, width, height) {
    const [west, south, east, north] = bounds;
    const lat = (south + north) / 2;
    // At zoom z a 512-px tile spans 360/2^z degrees of longitude; latitude stretches by 1/cos(lat).
    const fitW = Math.log2(width * 360 / (512 * Math.max(east - west, 1e-4)));
    const fitH = Math.log2(height * 360 * Math.cos(lat * Math.PI / 180) / (512 * Math.max(north - south, 1e-4)));
    return Math.min(17, Math.max(3, Math.min(fitW, fitH) - 0.15));
  }

  function fitted(figure, element) {
    // The figure fitted to the element, or the figure itself where there is nothing to fit.
    const meta = figure.layout.meta;
    const size = [element.clientWidth, element.clientHeight, window.innerWidth, window.innerHeight];
    const narrow = element.clientWidth < NARROW;
    // On a phone the legend goes in one row under the map (over it, it would hide a third of a small map).
    const margin = Object.assign({}, figure.layout.margin, narrow ? {b: 34} : {});
    const scale = meta.screen === "wall" ? Math.max(1, Math.min(size[2] / WALL[0], size[3] / WALL[1])) : 1;
    const type = meta.type || {};
    if (type.title) {  // a title grown with the wall needs its room above the map
      margin.t = Math.max(margin.t || 0, Math.round(type.title * scale * 1.6));
    }
    // Plotly takes the room of a colour bar (its bar, ticks and title) from the map's width.
    const bars = figure.data.some(function (t) { return t.colorbar && t.showscale !== false; });
    const width = element.clientWidth - (margin.l || 0) - (margin.r || 0) - (bars ? (narrow ? 45 : 60 * scale) : 0);
    const height = element.clientHeight - (margin.t || 0) - (margin.b || 0);
    if (width < 50 || height < 50) {
      return figure;
    }
    const [west, south, east, north] = meta.fit;
    const layout = Object.assign({}, figure.layout, {meta: Object.assign({}, meta, {fitted: size}), margin: margin});
    layout.map = Object.assign({}, layout.map, {zoom: fitZoom(meta.fit, width, height),
                                                center: {lon: (west + east) / 2, lat: (south + north) / 2}});
    if (type.title && layout.title) {
      layout.title = withFont(layout.title, type.title * scale);
    }
    if (type.legend) {
      layout.legend = withFont(layout.legend, type.legend * scale);
    }
    if (narrow) {
      layout.legend = Object.assign(withFont(layout.legend, 10),
                                    {orientation: "h", x: 0, xanchor: "left", y: 0, yanchor: "top"});
    }
    const data = figure.data.map(function (trace) {
      if (!trace.colorbar || (scale === 1 && !narrow)) {
        return trace;
      }
      const text = narrow ? 9 : 12 * scale;
      const bar = Object.assign({}, trace.colorbar, {thickness: narrow ? 8 : 12 * scale, len: narrow ? 0.5 : 1,
                                                     tickfont: {size: text}});
      if (bar.title) {
        bar.title = withFont(bar.title, text);
      }
      return Object.assign({}, trace, {colorbar: bar});
    });
    return Object.assign({}, figure, {data: data, layout: layout});
  }

  function fitting(react) {
    return function (gd, figure) {
      // dcc.Graph's call: Plotly.react(gd, {data, layout, frames, config}).
      const layout = figure && figure.layout;
      if (arguments.length !== 2 || !gd || !gd.nodeType || !layout || !layout.map || !layout.meta || !layout.meta.fit) {
        return react.apply(this, arguments);
      }
      return laidOut(gd, 120).then(function (element) { return react(element, fitted(figure, element)); });
    };
  }

  let plotly;
  Object.defineProperty(window, "Plotly", {
    configurable: true,
    get: function () { return plotly; },
    set: function (value) {
      if (value && typeof value.react === "function" && !value.react.fitting) {
        value.react = fitting(value.react);
        value.react.fitting = true;
      }
      plotly = value;
    },
  });
})();
