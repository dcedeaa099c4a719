// Package nabscore scores anomaly detectors with the Numenta Anomaly Benchmark (NAB v1.1):
// Lavin & Ahmad, "Evaluating Real-time Anomaly Detection Algorithms — the Numenta Anomaly
// Benchmark", IEEE ICMLA 2015. It is a port of NAB's nab/sweeper.py, nab/scorer.py,
// nab/optimizer.py and the normalisation of nab/runner.py at github.com/numenta/NAB commit
// ea702d75cc2258d9d7dd35ca8e5e2539d71f3140, and reproduces NAB's published per-file
// scores of the Numenta HTM detector (see the tests).
//
// The scoring in brief. A detector gives every row of a data file an anomaly score in
// [0, 1]; a threshold turns scores into detections (score ≥ threshold). The first rows of
// each file (the probationary period, datasets.Probationary: 15%, at most 750) are not
// scored. Each labelled anomaly window counts once: its earliest detection earns
// tpWeight·σ(y)/σ(−1), where y ∈ [−1, 0) is the detection's relative position in the window
// and σ is ScaledSigmoid, and a window without a detection costs fnWeight. Every detection
// outside the windows costs fpWeight·|σ(y)|, where y is its distance after the end of the
// previous window in units of that window's length (a full −fpWeight before any window or
// more than three window lengths after one). A file's raw score is the sum; a corpus's raw
// score is the sum over files, normalised as 100·(raw − null)/(perfect − null), where null
// is the score of a detector that never fires and perfect the score of one that fires at
// the start of every window. NAB picks each detector's threshold per profile by sweeping
// all thresholds over the corpus (Optimize).
package nabscore
