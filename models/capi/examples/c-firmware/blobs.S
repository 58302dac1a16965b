/* The model file and the test samples, placed in flash as they are (read in place).
   MODEL_PATH and SAMPLES_PATH are given on the command line (-D). */
    .section .rodata.snn_model, "a"
    .balign 4
    .global snn_model_start, snn_model_end
snn_model_start:
    .incbin MODEL_PATH
snn_model_end:

    .section .rodata.samples, "a"
    .balign 4
    .global samples_start, samples_end
samples_start:
    .incbin SAMPLES_PATH
samples_end:

    .section .note.GNU-stack, "", %progbits
