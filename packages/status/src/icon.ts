import { LabIcon } from '@jupyterlab/ui-components';

/**
 * Hotstepper's mark: a ball on a flight of steps. `jp-icon3` lets the theme colour it.
 * Inline rather than an .svg import, so tsc output needs no loader.
 */
const svgstr = `<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24">
  <g class="jp-icon3" fill="#616161">
    <path d="M2 22v-5h5v-5h5V7h5V2h5v20z"/>
    <circle cx="6.5" cy="6.5" r="3"/>
  </g>
</svg>`;

/** The icon of the Hotstepper sidebar panel. */
export const hotstepperIcon = new LabIcon({ name: 'hotstepper:logo', svgstr });
