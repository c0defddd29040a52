// Where the remote scripts and unit templates live in this repository (components/scripts/).
import { fileURLToPath } from 'node:url';

export const SCRIPTS_DIR = fileURLToPath(new URL('../scripts/', import.meta.url));
export const UNITS_DIR = fileURLToPath(new URL('../scripts/units/', import.meta.url));
