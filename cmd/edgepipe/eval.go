package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/edgepipe/edgepipe/datasets"
	"github.com/edgepipe/edgepipe/models"
	"github.com/edgepipe/edgepipe/models/nabscore"
)

func evalCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "eval",
		Short: "Evaluate anomaly detectors on benchmarks",
	}
	cmd.AddCommand(evalNABCmd())
	return cmd
}

type evalNABOptions struct {
	results, labels, profiles, thresholds string
	threshold                             float64
	fixed                                 bool // --threshold was given
	data, model, out                      string
}

func evalNABCmd() *cobra.Command {
	var o evalNABOptions
	cmd := &cobra.Command{
		Use:   "nab [--results DIR] [--data DIR] [--out DIR]",
		Short: "Score anomaly detectors with the Numenta Anomaly Benchmark (NAB v1.1)",
		Long: `nab scores anomaly detectors as the Numenta Anomaly Benchmark v1.1 does (Lavin & Ahmad 2015;
models/nabscore): per profile (standard, reward_low_FP_rate, reward_low_FN_rate) a raw score
(earliest detection per labelled window, weighted false positives, missed windows) and the
normalised score 100·(raw − null)/(perfect − null) over the files scored.

With --results DIR it scores the detector outputs in DIR, in NAB's results layout
(<detector>/<category>/<detector>_<file>.csv, or <category>/<file>.csv) with the columns
timestamp and anomaly_score, at --threshold, at the thresholds of --thresholds (NAB's
config/thresholds.json), or else at the threshold NAB's sweeper finds best per profile.

Without --results it runs edgepipe's anomaly autoencoder over every stream (--data, default
the shipped NAB realKnownCause recordings), trained on the probationary periods only (or
--model). Each row's reconstruction error e becomes a raw score e/(e+θ) in [0, 1], θ the
stream's threshold (0.5 = the model's own detection rule), and the raw scores go through
Numenta's anomaly likelihood (Ahmad et al. 2017; models.Likelihood with the options NAB's
numenta detector uses): anomaly_score = ln(1.0000000001 − L)/ln(1e-10), so the paper's rule
L ≥ 1 − 1e-5 is anomaly_score ≥ 0.4999996, edgepipe's own threshold. It writes these
outputs in NAB's results format under --out, scores them at that threshold and at the
thresholds NAB's sweeper finds best on these files (tuned on their labels, as NAB does for
every detector), and prints them next to the raw scores e/(e+θ) (at 0.5 and tuned), the
Numenta HTM detector's outputs on the same files scored the same way, and NAB's published
full-corpus table.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.fixed = cmd.Flags().Changed("threshold")
			if o.results == "" && (o.fixed || o.thresholds != "") {
				return errors.New("--threshold and --thresholds go with --results")
			}
			if o.fixed && o.thresholds != "" {
				return errors.New("give --threshold or --thresholds, not both")
			}
			if o.results != "" && (o.data != "" || o.model != "" || o.out != "") {
				return errors.New("--data, --model and --out run edgepipe's detector and do not go with --results")
			}
			if o.results != "" {
				return evalResults(cmd.OutOrStdout(), o)
			}
			return evalEdgepipe(cmd.OutOrStdout(), o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.results, "results", "", "folder of detector outputs in NAB's results format to score")
	f.Float64Var(&o.threshold, "threshold", 0, "with --results: one anomaly_score threshold for every profile (default: NAB's optimised threshold)")
	f.StringVar(&o.thresholds, "thresholds", "", "with --results: NAB thresholds.json giving the threshold per detector and profile")
	f.StringVar(&o.labels, "labels", "", "NAB combined_windows.json (default: the shipped labels)")
	f.StringVar(&o.profiles, "profiles", "", "NAB profiles.json (default: the shipped NAB v1.1 profiles)")
	f.StringVar(&o.data, "data", "", "folder of NAB-format CSVs for edgepipe's detector (default: the shipped recordings)")
	f.StringVar(&o.model, "model", "", "anomaly model file for edgepipe's detector (default: train one on the probationary periods)")
	f.StringVar(&o.out, "out", "", "write edgepipe's outputs in NAB's results format under this folder (edgepipe/<category>/edgepipe_<file>.csv)")
	return cmd
}

// readNABFile reads a file on disk, or the shipped nab/<shipped> when path is "".
func readNABFile(path, shipped string) ([]byte, error) {
	if path == "" {
		return fs.ReadFile(datasets.NAB, "nab/"+shipped)
	}
	return os.ReadFile(path)
}

// readThresholds reads NAB thresholds.json from path, or the shipped one when path is "".
func readThresholds(path string) (map[string]map[string]nabscore.Threshold, error) {
	b, err := readNABFile(path, "config/thresholds.json")
	if err != nil {
		return nil, err
	}
	return nabscore.ReadThresholds(bytes.NewReader(b))
}

// nabConfig reads the labels and profiles of --labels and --profiles.
func nabConfig(o evalNABOptions) (map[string][]datasets.Window, []nabscore.Profile, error) {
	labels, err := datasets.ReadNABLabels(o.labels)
	if err != nil {
		return nil, nil, err
	}
	b, err := readNABFile(o.profiles, "config/profiles.json")
	if err != nil {
		return nil, nil, err
	}
	profiles, err := nabscore.ReadProfiles(bytes.NewReader(b))
	return labels, profiles, err
}

// scoreProfiles scores c for every profile at fixed[profile name], or at the threshold
// NAB's sweeper finds best when the profile has none.
func scoreProfiles(c nabscore.Corpus, profiles []nabscore.Profile, fixed map[string]float64) ([]nabscore.Result, error) {
	out := make([]nabscore.Result, len(profiles))
	for i, p := range profiles {
		th, ok := fixed[p.Name]
		if !ok {
			var err error
			if th, _, err = c.Optimize(p); err != nil {
				return nil, err
			}
		}
		r, err := c.Score(p, th)
		if err != nil {
			return nil, err
		}
		out[i] = r
	}
	return out, nil
}

// allProfiles returns profile name → th for every profile.
func allProfiles(profiles []nabscore.Profile, th float64) map[string]float64 {
	m := map[string]float64{}
	for _, p := range profiles {
		m[p.Name] = th
	}
	return m
}

// evalResults scores every detector found under o.results.
func evalResults(w io.Writer, o evalNABOptions) error {
	labels, profiles, err := nabConfig(o)
	if err != nil {
		return err
	}
	if _, err := os.Stat(o.results); err != nil {
		return err
	}
	byDetector, err := nabscore.ReadResults(os.DirFS(o.results), ".", labels)
	if err != nil {
		return fmt.Errorf("%s: %w", o.results, err)
	}
	if len(byDetector) == 0 {
		return fmt.Errorf("%s: no detector outputs (.csv files)", o.results)
	}
	var published map[string]map[string]nabscore.Threshold
	if o.thresholds != "" {
		if published, err = readThresholds(o.thresholds); err != nil {
			return err
		}
	}
	detectors := make([]string, 0, len(byDetector))
	for d := range byDetector {
		detectors = append(detectors, d)
	}
	sort.Strings(detectors)
	for _, d := range detectors {
		name := d
		if name == "" {
			abs, err := filepath.Abs(o.results)
			if err != nil {
				return err
			}
			name = filepath.Base(abs)
		}
		fixed, how := map[string]float64{}, "optimised by NAB's sweeper on these files"
		switch {
		case o.fixed:
			fixed, how = allProfiles(profiles, o.threshold), fmt.Sprintf("--threshold %g", o.threshold)
		case published != nil:
			for _, p := range profiles {
				th, ok := published[name][p.Name]
				if !ok {
					return fmt.Errorf("%s: no threshold for detector %s, profile %s", o.thresholds, name, p.Name)
				}
				fixed[p.Name] = th.Threshold
			}
			how = "from " + o.thresholds
		}
		rs, err := scoreProfiles(nabscore.Corpus{Files: byDetector[d], Windows: labels}, profiles, fixed)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		printResults(w, fmt.Sprintf("detector %s, thresholds %s", name, how), rs)
	}
	return nil
}

// evalEdgepipe runs edgepipe's detector over the NAB streams, scores it, and compares it
// with Numenta HTM on the same files and NAB's published table.
func evalEdgepipe(w io.Writer, o evalNABOptions) error {
	labels, profiles, err := nabConfig(o)
	if err != nil {
		return err
	}
	streams, err := datasets.ReadNABDir(o.data)
	if err != nil {
		return err
	}
	keys, err := streamKeys(streams, labels)
	if err != nil {
		return err
	}
	var m *models.Dense
	if o.model != "" {
		m, err = models.Load(o.model)
	} else {
		m, err = trainStreams(streams, models.DefaultAnomalyOptions(), "nab-eval")
	}
	if err != nil {
		return err
	}
	det, err := detectNAB(m, streams, keys)
	if err != nil {
		return err
	}
	if o.out != "" {
		if err := writeNABResults(o.out, "edgepipe", det.likelihood, labels); err != nil {
			return err
		}
	}
	meta := m.Meta()
	fmt.Fprintf(w, "edgepipe anomaly autoencoder %s (version %s), trained on %d probationary rows of %d streams;\n",
		meta.Name, meta.Version, meta.TrainRows, len(meta.Scalers)-1)
	fmt.Fprintf(w, "raw score e/(e+θ): reconstruction error e over the stream's threshold θ in the model (θ → 0.5);\n")
	fmt.Fprintf(w, "anomaly_score = ln(1.0000000001 − L)/ln(1e-10) of the anomaly likelihood L of the raw scores\n")
	fmt.Fprintf(w, "(Ahmad et al. 2017; NAB numenta options: learning ⌊P/2⌋ rows, estimation P − ⌊P/2⌋, W 8640, W′ 10)\n")
	if o.out != "" {
		fmt.Fprintf(w, "outputs in NAB results format: %s\n", filepath.Join(o.out, "edgepipe"))
	}
	fmt.Fprintln(w)

	c := nabscore.Corpus{Files: det.likelihood, Windows: labels}
	own, err := scoreProfiles(c, profiles, allProfiles(profiles, likelihoodThreshold))
	if err != nil {
		return err
	}
	printResults(w, fmt.Sprintf("edgepipe at its own threshold (likelihood ≥ 1 − %g, the paper's default ε, fixed a priori)", models.LikelihoodEpsilon), own)
	opt, err := scoreProfiles(c, profiles, nil)
	if err != nil {
		return err
	}
	printResults(w, "edgepipe tuned: thresholds NAB's sweeper finds best on these files (uses their labels, as NAB does)", opt)

	rc := nabscore.Corpus{Files: det.raw, Windows: labels}
	rawOwn, err := scoreProfiles(rc, profiles, allProfiles(profiles, 0.5))
	if err != nil {
		return err
	}
	rawOpt, err := scoreProfiles(rc, profiles, nil)
	if err != nil {
		return err
	}
	rows := []comparison{
		{"edgepipe likelihood", "own (L ≥ 1 − 1e-5, a priori)", own},
		{"edgepipe likelihood", "tuned on these files", opt},
		{"edgepipe raw e/(e+θ)", "own (0.5, from probation)", rawOwn},
		{"edgepipe raw e/(e+θ)", "tuned on these files", rawOpt},
	}
	numenta, err := numentaRows(keys, labels, profiles)
	if err != nil {
		return err
	}
	rows = append(rows, numenta...)
	printComparison(w, own[0], rows, profiles)

	b, err := readNABFile("", "results/final_results.json")
	if err != nil {
		return err
	}
	final, err := nabscore.ReadFinalResults(bytes.NewReader(b))
	if err != nil {
		return err
	}
	printPublished(w, final, profiles)
	return nil
}

// comparison is one row of the comparison table: a detector scored for every profile.
type comparison struct {
	detector, thresholds string
	results              []nabscore.Result
}

// numentaRows scores the shipped Numenta HTM outputs for the files among keys, at NAB's
// published thresholds and at thresholds optimised on these files; none when no file
// matches.
func numentaRows(keys []string, labels map[string][]datasets.Window, profiles []nabscore.Profile) ([]comparison, error) {
	sub, err := fs.Sub(datasets.NAB, "nab/results")
	if err != nil {
		return nil, err
	}
	byDetector, err := nabscore.ReadResults(sub, ".", labels)
	if err != nil {
		return nil, err
	}
	var files []nabscore.File
	for _, f := range byDetector["numenta"] {
		if slices.Contains(keys, f.Key) {
			files = append(files, f)
		}
	}
	if len(files) != len(keys) {
		return nil, nil
	}
	ths, err := readThresholds("")
	if err != nil {
		return nil, err
	}
	fixed := map[string]float64{}
	for _, p := range profiles {
		if th, ok := ths["numenta"][p.Name]; ok {
			fixed[p.Name] = th.Threshold
		}
	}
	c := nabscore.Corpus{Files: files, Windows: labels}
	pub, err := scoreProfiles(c, profiles, fixed)
	if err != nil {
		return nil, err
	}
	opt, err := scoreProfiles(c, profiles, nil)
	if err != nil {
		return nil, err
	}
	return []comparison{
		{"Numenta HTM", "NAB's published (full corpus)", pub},
		{"Numenta HTM", "tuned on these files", opt},
	}, nil
}

// printResults prints a detector's scores: one row per profile, then one per file.
func printResults(w io.Writer, title string, rs []nabscore.Result) {
	fmt.Fprintln(w, title)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "profile\tthreshold\traw\tnull\tperfect\tnormalised\t")
	for _, r := range rs {
		fmt.Fprintf(tw, "%s\t%.6g\t%.3f\t%.0f\t%.0f\t%.1f\t\n", r.Profile.Name, r.Threshold, r.Raw, r.Null, r.Perfect, r.Normalized)
	}
	tw.Flush()
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprint(tw, "file\twindows\t")
	for _, r := range rs {
		fmt.Fprintf(tw, "%s\t", r.Profile.Name)
	}
	fmt.Fprintln(tw)
	for i, f := range rs[0].Files {
		fmt.Fprintf(tw, "%s\t%d\t", f.Key, f.Windows)
		for _, r := range rs {
			g := r.Files[i]
			fmt.Fprintf(tw, "%.3f (%d, %d)\t", g.Score, g.Detected, g.FP)
		}
		fmt.Fprintln(tw)
	}
	tw.Flush()
	fmt.Fprintln(w, "(per file: raw score, windows detected, false-positive rows)")
	fmt.Fprintln(w)
}

// printComparison prints the normalised scores of several detectors on the same files.
func printComparison(w io.Writer, ref nabscore.Result, rows []comparison, profiles []nabscore.Profile) {
	windows := 0
	for _, f := range ref.Files {
		windows += f.Windows
	}
	fmt.Fprintf(w, "NAB normalised score on the same %d files (%d scored windows):\n", len(ref.Files), windows)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprint(tw, "detector\tthresholds\t")
	for _, p := range profiles {
		fmt.Fprintf(tw, "%s\t", p.Name)
	}
	fmt.Fprintln(tw)
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t", r.detector, r.thresholds)
		for _, x := range r.results {
			fmt.Fprintf(tw, "%.1f\t", x.Normalized)
		}
		fmt.Fprintln(tw)
	}
	tw.Flush()
	fmt.Fprintln(w)
}

// printPublished prints NAB's published normalised scores (full corpus), best first.
func printPublished(w io.Writer, final map[string]map[string]float64, profiles []nabscore.Profile) {
	names := make([]string, 0, len(final))
	for d := range final {
		names = append(names, d)
	}
	sort.Slice(names, func(i, j int) bool {
		a, b := final[names[i]]["standard"], final[names[j]]["standard"]
		if a != b {
			return a > b
		}
		return names[i] < names[j]
	})
	fmt.Fprintln(w, "NAB's published normalised scores, full corpus of 58 files (results/final_results.json):")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprint(tw, "detector\t")
	for _, p := range profiles {
		fmt.Fprintf(tw, "%s\t", p.Name)
	}
	fmt.Fprintln(tw)
	for _, d := range names {
		fmt.Fprintf(tw, "%s\t", d)
		for _, p := range profiles {
			v, ok := final[d][p.Name]
			if !ok {
				v = math.NaN()
			}
			fmt.Fprintf(tw, "%.1f\t", v)
		}
		fmt.Fprintln(tw)
	}
	tw.Flush()
}
