import { describe, expect, it } from 'vitest';
import { parseLeaderElectionTimings } from './controller-command.js';

describe('leader election timing flags', () => {
  it("defaults to Flagger's timings: lease 60 s, renew deadline 15 s, retry 5 s", () => {
    expect(parseLeaderElectionTimings({})).toEqual({
      leaseDurationMs: 60_000,
      renewDeadlineMs: 15_000,
      retryPeriodMs: 5_000,
    });
  });

  it('takes Go durations', () => {
    expect(
      parseLeaderElectionTimings({
        leaderElectionLeaseDuration: '6s',
        leaderElectionRenewDeadline: '4s',
        leaderElectionRetryPeriod: '500ms',
      }),
    ).toEqual({ leaseDurationMs: 6_000, renewDeadlineMs: 4_000, retryPeriodMs: 500 });
  });

  it('names the flag of a value that is not a duration', () => {
    expect(() => parseLeaderElectionTimings({ leaderElectionLeaseDuration: 'soon' })).toThrow(
      /^--leader-election-lease-duration: "soon" is not a duration of at least 1s/,
    );
    expect(() => parseLeaderElectionTimings({ leaderElectionLeaseDuration: '500ms' })).toThrow(
      /--leader-election-lease-duration/,
    );
  });

  it('refuses a renew deadline a standby could overtake, and one with too few attempts', () => {
    expect(() =>
      parseLeaderElectionTimings({ leaderElectionLeaseDuration: '10s', leaderElectionRenewDeadline: '10s' }),
    ).toThrow(
      /--leader-election-renew-deadline \(10000 ms\) must be shorter than --leader-election-lease-duration/,
    );
    expect(() =>
      parseLeaderElectionTimings({ leaderElectionRenewDeadline: '6s', leaderElectionRetryPeriod: '5s' }),
    ).toThrow(/more than 1\.2 × --leader-election-retry-period/);
  });
});
