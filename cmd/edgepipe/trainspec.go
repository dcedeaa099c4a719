package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/edgepipe/edgepipe/models"
)

// trainPlan is what `edgepipe train` trains: the network after the input, the loss and
// the optimisation. It starts from the dataset's defaults (planFor), then a --spec file and
// then explicit flags override it.
type trainPlan struct {
	// Window is the readings per input row of an autoencoder.
	Window int
	// Hidden are the hidden layers; Output the output layer's activation (its width comes
	// from the data: the classes, or Window × fields for an autoencoder).
	Hidden []models.LayerSpec
	Output models.Activation
	Loss   models.Loss
	Fit    models.FitOptions
}

// The datasets `edgepipe train --dataset` knows.
const (
	datasetNAB       = "nab"
	datasetOccupancy = "occupancy"
	datasetMNIST     = "mnist"
)

// planFor returns the default plan of a dataset: the demo autoencoder for NAB and stored
// readings (models.DefaultAnomalyOptions), a 5→4→2 tanh/softmax classifier for Occupancy
// (20 epochs, 20% validation, patience 5),
// and the 784→500→10 ReLU/softmax MLP for MNIST (Adam 0.001, batches of 128, 20 epochs on
// all 60,000 training images).
func planFor(dataset string) (trainPlan, error) {
	fit := models.DefaultFitOptions()
	switch dataset {
	case datasetNAB:
		a := models.DefaultAnomalyOptions()
		p := trainPlan{Window: a.Window, Output: models.ActLinear, Loss: models.LossMSE, Fit: a.FitOptions}
		for _, w := range a.Hidden {
			p.Hidden = append(p.Hidden, models.LayerSpec{Width: w, Activation: a.HiddenActivation})
		}
		return p, nil
	case datasetOccupancy:
		fit.Epochs, fit.BatchSize, fit.ValidationSplit, fit.Patience = 20, 32, 0.2, 5
		return trainPlan{Hidden: []models.LayerSpec{{Width: 4, Activation: models.ActTanh}}, Output: models.ActSoftmax,
			Loss: models.LossCrossEntropy, Fit: fit}, nil
	case datasetMNIST:
		fit.Epochs, fit.BatchSize = 20, 128
		return trainPlan{Hidden: []models.LayerSpec{{Width: 500, Activation: models.ActReLU}}, Output: models.ActSoftmax,
			Loss: models.LossCrossEntropy, Fit: fit}, nil
	}
	return trainPlan{}, fmt.Errorf("--dataset %q: want %s, %s or %s", dataset, datasetNAB, datasetOccupancy, datasetMNIST)
}

// trainSpec is the YAML file of `edgepipe train --spec`. Every key is optional; a missing
// one keeps the dataset's default.
type trainSpec struct {
	Window           *int         `yaml:"window"`
	Layers           []layerEntry `yaml:"layers"`
	OutputActivation *string      `yaml:"output_activation"`
	Loss             *string      `yaml:"loss"`
	Optimizer        *struct {
		LearningRate *float64 `yaml:"learning_rate"`
		Beta1        *float64 `yaml:"beta1"`
		Beta2        *float64 `yaml:"beta2"`
		Epsilon      *float64 `yaml:"epsilon"`
	} `yaml:"optimizer"`
	Epochs          *int     `yaml:"epochs"`
	Batch           *int     `yaml:"batch"`
	ValidationSplit *float64 `yaml:"validation_split"`
	Patience        *int     `yaml:"patience"`
	Seed            *int64   `yaml:"seed"`
}

type layerEntry struct {
	Width      int    `yaml:"width"`
	Activation string `yaml:"activation"`
}

// applySpecFile overrides p with the keys set in the YAML file at path. Unknown keys are
// errors (a typo would otherwise be ignored); errors name the file and, from the YAML
// decoder, the line.
func (p *trainPlan) applySpecFile(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var s trainSpec
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&s); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	set := func(dst *float64, v *float64) {
		if v != nil {
			*dst = *v
		}
	}
	setInt := func(dst *int, v *int) {
		if v != nil {
			*dst = *v
		}
	}
	setInt(&p.Window, s.Window)
	if s.Layers != nil {
		p.Hidden = nil
		for i, l := range s.Layers {
			if l.Width < 1 {
				return fmt.Errorf("%s: layers[%d]: width %d, want ≥ 1", path, i, l.Width)
			}
			p.Hidden = append(p.Hidden, models.LayerSpec{Width: l.Width, Activation: models.Activation(l.Activation)})
		}
	}
	if s.OutputActivation != nil {
		p.Output = models.Activation(*s.OutputActivation)
	}
	if s.Loss != nil {
		p.Loss = models.Loss(*s.Loss)
	}
	if o := s.Optimizer; o != nil {
		set(&p.Fit.LearningRate, o.LearningRate)
		set(&p.Fit.Beta1, o.Beta1)
		set(&p.Fit.Beta2, o.Beta2)
		set(&p.Fit.Epsilon, o.Epsilon)
	}
	setInt(&p.Fit.Epochs, s.Epochs)
	setInt(&p.Fit.BatchSize, s.Batch)
	set(&p.Fit.ValidationSplit, s.ValidationSplit)
	setInt(&p.Fit.Patience, s.Patience)
	if s.Seed != nil {
		p.Fit.Seed = *s.Seed
	}
	return nil
}

// parseLayers reads --layers entries "WIDTH:ACTIVATION" (e.g. 500:relu).
func parseLayers(entries []string) ([]models.LayerSpec, error) {
	if len(entries) == 0 {
		return nil, errors.New("--layers: no layers")
	}
	var out []models.LayerSpec
	for _, e := range entries {
		w, act, ok := strings.Cut(strings.TrimSpace(e), ":")
		width, err := strconv.Atoi(w)
		if !ok || err != nil || width < 1 || act == "" {
			return nil, fmt.Errorf("--layers: %q is not WIDTH:ACTIVATION (e.g. 500:relu)", e)
		}
		out = append(out, models.LayerSpec{Width: width, Activation: models.Activation(act)})
	}
	return out, nil
}

// anomaly returns the plan as options of models.TrainAnomaly, whose autoencoder has one
// hidden activation, a linear output and the mean squared error.
func (p trainPlan) anomaly() (models.AnomalyOptions, error) {
	o := models.DefaultAnomalyOptions()
	o.Window, o.FitOptions, o.Hidden = p.Window, p.Fit, nil
	if p.Output != models.ActLinear || p.Loss != models.LossMSE {
		return o, fmt.Errorf("an autoencoder has a linear output and the mse loss, not %s and %s", p.Output, p.Loss)
	}
	if len(p.Hidden) == 0 {
		return o, errors.New("an autoencoder needs at least one hidden layer")
	}
	o.HiddenActivation = p.Hidden[0].Activation
	for _, l := range p.Hidden {
		if l.Activation != o.HiddenActivation {
			return o, fmt.Errorf("the autoencoder's hidden layers share one activation: got %s and %s", o.HiddenActivation, l.Activation)
		}
		o.Hidden = append(o.Hidden, l.Width)
	}
	return o, nil
}

// layers returns the classifier's layers: the hidden ones and an output of width classes.
func (p trainPlan) layers(classes int) []models.LayerSpec {
	return append(append([]models.LayerSpec(nil), p.Hidden...), models.LayerSpec{Width: classes, Activation: p.Output})
}
