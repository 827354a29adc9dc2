/** The translation bundle every Grader screen reads its words from (Lab's translator, if any). */
import { nullTranslator, type TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

/** The bundle the panel renders with; the plugin provides Lab's, tests get the null one. */
export const TransContext = React.createContext<TranslationBundle>(
  nullTranslator.load('hotstepper')
);

/** The Grader's translation bundle. */
export const useTrans = (): TranslationBundle => React.useContext(TransContext);
