"""The reading guides shown above each section of the HTML report (trusted, static HTML)."""

METRICS = """
<p>Every number compares the detector's <b>alarms</b> (scores above a threshold set without labels:
Peaks-Over-Threshold on held-out training scores) with the labelled anomaly segments.</p>
<ul>
<li><b>Point-adjusted (PA) precision / recall / F1</b> &mdash; if any point of a labelled segment is alarmed,
the whole segment counts as detected. One alarm inside a 1,000-step segment earns 1,000 true positives, so
PA rewards luck on long segments: on SMAP channel P-1 a random score flagging 2% of the points reaches a PA F1
of about 0.90, as high as published deep models. <b>Never read PA alone.</b></li>
<li><b>Point-wise (PW)</b> &mdash; every time step counts once, as it is. Strict, and what an operator
experiences: how many alarmed steps were anomalous, how many anomalous steps were alarmed.</li>
<li><b>Event-wise F1</b> &mdash; each labelled segment counts once (found or missed); each run of alarms
outside every segment counts as one false event.</li>
<li><b>VUS-PR</b> &mdash; threshold-free: the area under range-based precision-recall curves, averaged over
buffer lengths that tolerate small misalignments at segment edges (Paparrizos et al., VLDB 2022). A score
that ranks anomalous steps first scores high whatever the threshold; chance level is about the anomaly
share.</li>
<li><b>Oracle columns</b> &mdash; the best F1 over all thresholds, chosen <i>with the test labels</i>. No
deployed detector can pick that threshold: it is an upper bound on threshold choice, not a result.</li>
<li><b>Sanity rows</b> &mdash; <code>random_*</code> scores uniform noise and alarms on its top share of
points; <code>range</code> measures how far values leave the training range. A detector that does not beat
them has not shown skill, whatever its PA F1.</li>
<li><b>Micro</b> totals take all channels as one stream (the headline); <b>macro</b> is the unweighted mean
over channels.</li>
</ul>
"""

TABLE1 = """
<p>One row per detector over the whole data set (micro totals), every detector trained and evaluated the
same way. Compare rows column by column, and weigh a high PA F1 against the PW F1, event F1 and VUS-PR beside
it and against the sanity rows: a gap between PA and PW means the detector hits long segments somewhere
rather than tracking them. <b>train s</b> is the total training time over channels and <b>windows/s</b> the
scoring throughput, on the machine named above the table. <b>Quoted</b> figures are copied from publications,
not reproduced here; those papers usually picked their threshold with the test labels and used point
adjustment, so compare them with the oracle PA column rather than with the label-free one.</p>
"""

REPLAY = """
<p>A replay is the backtest of the product: each channel's test data, after the end of its training data,
goes through the pipeline a worker runs (windows every stride, label-free thresholds, fusion, hysteresis), so
the <b>alerts</b> table says what operators would have received: how many labelled incidents an alert caught,
how many alerts were false, how late they came. Point-level tables judge each detector's raw alarms at every
step. Each per-channel figure shows, from top to bottom: the channel's first feature with the labelled spans
shaded red and the alerts as bars at the top, coloured by severity; the detector's score (black) against its
threshold (orange), on a log axis when all values are positive; and bars comparing labelled spans (red),
alarms (orange) and alerts. Look for scores that rise <i>inside</i> the red spans and stay below the threshold
elsewhere. Click a figure to see it at the size of the window.</p>
"""

SENSITIVITY = """
<p>Each figure varies one condition and keeps everything else fixed: lines are means over seeds, bands are
&plusmn;1 standard deviation, one colour per detector, grey is the random sanity baseline. Top row: the lenient
point-adjusted protocol and VUS-PR; bottom row: point-wise and event-wise. <b>Anomaly ratio</b>: evaluation
streams cut from the labelled test data so that the labelled share is exactly the target; watch the random
baseline's PA F1 climb with the ratio &mdash; that climb is the point-adjustment inflation, not skill.
<b>Noise</b>: Gaussian noise of a share of each feature's training standard deviation, on the evaluation
stream only (solid) or on training data too (dashed, models retrained). <b>Window length</b>: models retrained
at each window length. A robust detector keeps flat PW F1 and VUS-PR curves with narrow bands.</p>
"""
