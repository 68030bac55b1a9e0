import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fitWidths, tableRow, tableRows } from '../../src/cli/table.js';

describe('the CLI table helper', () => {
  it('pads each column to its width and leaves cells past the widths as they are', () => {
    const layout = { widths: [17, 12, 12, 10, 12, 14, 25] };
    // The header `runway deploys list` has always printed, byte for byte.
    assert.equal(
      tableRow(layout, ['ID', 'ENV', 'RELEASE', 'STRATEGY', 'STATUS', 'BY', 'STARTED', 'DURATION']),
      'ID                ENV          RELEASE      STRATEGY   STATUS       BY             STARTED                   DURATION',
    );
  });

  it('never cuts a cell longer than its column: the row is pushed instead', () => {
    assert.equal(tableRow({ widths: [4] }, ['production', 'v2']), 'production v2');
  });

  it('indents, joins with the gap, right-aligns the columns asked and trims only when asked', () => {
    const layout = { widths: [8, 6], indent: '    ', alignRight: [0] };
    assert.equal(tableRow(layout, ['+1.5s', 'start', 'm1']), '       +1.5s start  m1');
    assert.equal(tableRow(layout, ['+2s', 'done', '']), '         +2s done   ');
    assert.equal(tableRow({ ...layout, trimEnd: true }, ['+2s', 'done', '']), '         +2s done');
  });

  it('fits widths to the widest cell of each column, header included', () => {
    const rows = [
      ['NAME', 'VALUE'],
      ['DEPLOY_STRATEGY', 'immediate'],
    ];
    assert.deepEqual(fitWidths(rows), [15, 9]);
    assert.deepEqual(tableRows({ widths: fitWidths(rows), gap: '  ' }, rows), [
      'NAME             VALUE    ',
      'DEPLOY_STRATEGY  immediate',
    ]);
  });
});
