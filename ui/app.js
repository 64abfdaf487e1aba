// Hash router: #/models, #/models/NAME, #/applications, #/applications/new,
// #/applications/NAME[/edit], #/test/app/NAME, #/test/model/NAME/VERSION, #/metrics.
import { api } from './api.js';
import { modelsView, modelView } from './views/models.js';
import { applicationsView, applicationView, applicationForm } from './views/applications.js';
import { testView } from './views/test.js';
import { metricsView } from './views/metrics.js';

const main = document.getElementById('main');
let generation = 0; // lets polling views stop when the user navigates away

function route() {
  const gen = ++generation;
  const parts = (location.hash.replace(/^#\/?/, '') || 'models').split('/').map(decodeURIComponent);
  document.querySelectorAll('[data-nav]').forEach((a) => a.classList.toggle('active', a.dataset.nav === parts[0] ||
    (parts[0] === 'test' && a.dataset.nav === (parts[1] === 'app' ? 'applications' : 'models'))));
  const [section, a, b, c] = parts;
  if (section === 'models' && a) return modelView(main, a);
  if (section === 'models') return modelsView(main);
  if (section === 'applications' && a === 'new') return applicationForm(main, null);
  if (section === 'applications' && a && b === 'edit') return applicationForm(main, a);
  if (section === 'applications' && a) return applicationView(main, a);
  if (section === 'applications') return applicationsView(main);
  if (section === 'test' && a === 'app') return testView(main, 'app', b);
  if (section === 'test' && a === 'model') return testView(main, 'model', b, c);
  if (section === 'metrics') return metricsView(main, () => gen === generation);
  main.textContent = 'Page not found.';
}

async function health() {
  const el = document.getElementById('health');
  try { await api.health(); el.textContent = 'server ready'; } catch (ex) { el.textContent = `server: ${ex.message}`; }
}

window.addEventListener('hashchange', () => { route(); main.focus(); });
route();
health();
