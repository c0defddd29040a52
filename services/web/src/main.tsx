import { render } from 'preact';
import { App } from './app/App.js';
import { initTelemetry } from './telemetry.js';
import './styles.css';

initTelemetry();
render(<App />, document.getElementById('app')!);
