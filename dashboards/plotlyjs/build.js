// plotly.js's own esbuild settings (its esbuild-config.js), minified as its dist/plotly.min.js is.
const esbuild = require('esbuild');
const fs = require('fs');
const path = require('path');
const { version } = require('plotly.js/package.json');

// MapLibre's stylesheet injected by the script, as plotly.js's build does (esbuild-plugin-inline-css), but with an
// id from the file's path within the packages rather than on this disk, so that every build is the same file.
const inlineCss = {
    name: 'inline-css',
    setup(build) {
        build.onLoad({ filter: /\.css$/ }, (args) => {
            const id = 'plotly-css-' + path.relative(__dirname, args.path).replace(/[^A-Za-z0-9]+/g, '-');
            const css = JSON.stringify(fs.readFileSync(args.path, 'utf8'));
            return {
                loader: 'js',
                contents: `if (!document.getElementById('${id}')) { var e = document.createElement('style'); ` +
                          `e.id = '${id}'; e.textContent = ${css}; document.head.appendChild(e); }`,
            };
        });
    },
};

esbuild.build({
    entryPoints: ['entry.js'],
    outfile: process.argv[2],
    format: 'iife',
    globalName: 'Plotly',
    bundle: true,
    minify: true,
    legalComments: 'eof',
    plugins: [inlineCss],
    define: { global: 'window', 'define.amd': 'false' },
    target: 'es2016',
    banner: { js: `/* plotly.js ${version} (MIT, https://plot.ly), traces scatter, bar, choroplethmap, scattermap: ` +
                  'built by dashboards/plotlyjs/build.sh */' },
    logLevel: 'info',
}).catch(() => process.exit(1));
