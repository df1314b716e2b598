"""Files in and out: CoNLL-U (conllu), corpora in any format and DocBins
(corpus), UD treebank folders (treebank) and the training log (training_log)."""
