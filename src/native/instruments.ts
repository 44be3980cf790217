// The three questionnaires' items and answer ranges (native-format.md, "Items and scores").

import type { Instrument } from './types.js';

export interface InstrumentItems {
  instrument: Instrument;
  /** items summed (PHQ-9, GAD-7) or averaged (PEG) into the score, in order */
  scored: readonly string[];
  /** items that may be given but are not scored (the difficulty item) */
  unscored: readonly string[];
  /** every item's answer is an integer from min to max */
  min: number;
  max: number;
  /** for messages: what the items are */
  itemsText: string;
}

export const INSTRUMENTS: Readonly<Record<Instrument, InstrumentItems>> = {
  'PHQ-9': {
    instrument: 'PHQ-9',
    scored: ['1', '2', '3', '4', '5', '6', '7', '8', '9'],
    unscored: ['10'],
    min: 0,
    max: 3,
    itemsText: 'PHQ-9 items "1" to "9" (scored) and optionally "10" (difficulty, not scored)',
  },
  'GAD-7': {
    instrument: 'GAD-7',
    scored: ['1', '2', '3', '4', '5', '6', '7'],
    unscored: ['8'],
    min: 0,
    max: 3,
    itemsText: 'GAD-7 items "1" to "7" (scored) and optionally "8" (difficulty, not scored)',
  },
  PEG: {
    instrument: 'PEG',
    scored: ['1', '2', '3'],
    unscored: [],
    min: 0,
    max: 10,
    itemsText: 'PEG items "1" (average pain), "2" (enjoyment of life) and "3" (general activity)',
  },
};

export const INSTRUMENT_CODES = Object.keys(INSTRUMENTS) as Instrument[];

export function isInstrument(value: unknown): value is Instrument {
  return typeof value === 'string' && Object.prototype.hasOwnProperty.call(INSTRUMENTS, value);
}
